"""Running network tests: the probe.

How the parts fit:

* :mod:`.catalog` turns ``websites``/``im``/a test name into NetTest classes;
* :mod:`.inputs` and :mod:`.testlists` decide what each test measures;
* :mod:`.geolocation` (with :mod:`.ipdb`) finds the probe's network identity;
* :mod:`.runner` measures inputs with bounded concurrency and, through
  :mod:`.assembly` and :mod:`.scrub`, turns test keys into measurements;
* :mod:`.results` keeps every run on disk and :mod:`.upload` sends
  measurements to a collector (now or later);
* :mod:`.commands` is the ``run`` and ``results`` CLI, with :mod:`.progress`
  for what the user sees.

The probe never stores or sends its own public IP address.
"""
