SELECT * FROM measurements WHERE measurement_uid = $uid;
