"""The censorship lab: censoring ISPs emulated with real kernels, real packets.

How the parts fit:

- ``netns`` creates and removes network namespaces; ``topology.Lab`` builds
  the network (an "internet" namespace, and per ISP a router and a client),
  starts every server and the external services, and tears it all down;
- ``internet`` is the ground truth (names, addresses, sites, ASNs) served by
  ``web``/``sites`` (HTTP/HTTPS with the ``pki`` CA) and ``dnsserver``;
  ``geodb`` writes the matching IP-to-ASN database; ``apps`` says how the
  instant-messaging tests find the apps in it (the endpoints file);
- ``censor`` turns actions (``tls-reset``, ``dns-nxdomain``...) into iptables
  rules, tc classes, resolver lies and ``proxy`` verdicts in one ISP's router;
- ``probe`` runs censorscope's real probe inside a client namespace;
- ``qa`` (websites) and ``qa_apps`` (apps) are the single-condition QA
  suite, ``scenario``/``campaign`` play policies over simulated time;
  ``commands`` is ``censorscope lab``.

Everything runs as root; nothing is named outside the ``cs-<run id>-`` prefix
and no namespace has a route to the host's uplink.
"""
