"""The simulated internet: which names exist, where they live, what they serve.

This is the lab's ground truth.  The authoritative DNS server and the
uncensored public resolvers answer from ``Internet.zone``; the web servers
serve ``Internet.hosts``; the IP-to-ASN database describes the same
addresses.  Conditions that are not censorship (a name that exists nowhere,
a name without addresses, a server that refuses or fails) are built in as
distinct names, so that censors can be switched per case while the internet
stays the same for everybody.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from censorscope.lab import addressing as plan
from censorscope.lab import sites
from censorscope.lab.web import App

# Names of the lab's own services (certificates carry them).
TEST_HELPER_NAME = "th.censorscope.lab"
COLLECTOR_NAME = "collector.censorscope.lab"
IP_DISCOVERY_NAME = "ip.censorscope.lab"
WHOAMI_NAME = "whoami.v4.powerdns.org"


class CertKind(enum.StrEnum):
    """How a site's TLS certificate is (in)valid."""

    VALID = "valid"
    EXPIRED = "expired"
    UNTRUSTED = "untrusted"  # signed by a CA the probe does not trust
    WRONG_NAME = "wrong-name"  # valid, but for another name
    # Signed by the lab's "pinned" CA, which is not in the CA bundle: only a
    # test that adds its PEM (Signal's ``extra_ca_pem``) trusts it.
    PINNED = "pinned"


@dataclass(frozen=True)
class Site:
    """A virtual host: its names and what it answers."""

    names: tuple[str, ...]
    app: App
    cert: CertKind = CertKind.VALID


@dataclass
class Host:
    """One server address with its network identity and virtual hosts."""

    address: str
    asn: int
    as_name: str
    cc: str
    sites: list[Site] = field(default_factory=list)
    http: bool = True
    https: bool = True
    in_dns: bool = True  # whether its site names resolve to it
    cleartext_ports: tuple[int, ...] = ()  # more plain-HTTP ports (Telegram's 443)
    silent_ports: tuple[int, ...] = ()  # accept and say nothing (WhatsApp's 5222)

    @property
    def names(self) -> list[str]:
        return [name for site in self.sites for name in site.names]


@dataclass(frozen=True)
class DnsRecord:
    """What the truthful DNS says about one name."""

    addresses: tuple[str, ...] = ()
    cname: str | None = None


@dataclass
class Internet:
    """All hosts plus the truthful DNS zone built from them."""

    hosts: list[Host] = field(default_factory=list)
    zone: dict[str, DnsRecord] = field(default_factory=dict)

    def add(self, host: Host) -> Host:
        self.hosts.append(host)
        if host.in_dns:
            for name in host.names:
                self.zone[name.lower()] = DnsRecord((host.address,))
        return host

    def addresses_of(self, name: str) -> tuple[str, ...]:
        """The true addresses of ``name`` (an IP literal is its own address)."""
        if _is_ip(name):
            return (name,)
        record = self.zone.get(name.lower().rstrip("."))
        return record.addresses if record else ()

    def host_at(self, address: str) -> Host | None:
        return next((h for h in self.hosts if h.address == address), None)

    def has_name(self, name: str) -> bool:
        return any(name.lower() in (n.lower() for n in h.names) for h in self.hosts)


def _is_ip(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 4 and all(part.isdigit() for part in parts)


_SHORT_LINKS = {
    "/21645": "https://www.example.com/",
    "/32447": "http://www.example.com/",
    "/24561": "https://example.com/",
    "/21309": "http://example.com/",
    "/30744": "https://www.example.org/",
    "/23894": "http://www.example.org/",
}


def standard_internet() -> Internet:
    """The QA internet (modelled on OONI's netemx) plus the lab's services."""
    internet = Internet()
    for host in _qa_hosts() + _service_hosts() + _app_hosts() + _report_hosts():
        internet.add(host)
    internet.zone["localhost.example.net"] = DnsRecord(("127.0.0.1",))
    internet.zone["noaddrs.example.net"] = DnsRecord((), "web01.example.net")
    return internet


def _qa_hosts() -> list[Host]:
    default = sites.page("Default Web Page", 2400)
    return [
        Host("10.200.1.10", 64601, "Lab Example CDN", "US", [
            Site(("www.example.com", "www.example.org"), default),
            Site(("example.com", "example.org"), sites.to_www()),
        ]),
        Host("10.200.2.10", 64602, "Lab Cloud Cache", "US", [
            Site(("www.cloudflare-cache.com",), sites.captcha("Cloud cache home")),
        ]),
        Host("10.200.3.10", 64603, "Lab Httpbin", "US", [
            Site(("httpbin.com",), sites.httpbin()),
        ]),
        Host("10.200.4.10", 64604, "Lab Shortener", "US", [
            Site(("bit.ly", "bitly.com"), sites.shortener(_SHORT_LINKS)),
        ], http=False),
        Host("10.200.5.10", 64605, "Lab Large Files", "US", [
            Site(("largefile.com", "www.largefile.com"), sites.large_file()),
        ]),
        Host("10.200.6.10", 64606, "Lab Bad TLS", "US", [
            Site(("untrusted-root.badssl.com",), default, CertKind.UNTRUSTED),
            Site(("expired.badssl.com",), default, CertKind.EXPIRED),
            Site(("wrong.host.badssl.com",), default, CertKind.WRONG_NAME),
        ], http=False),
        Host("10.200.7.10", 64607, "Lab Yandex", "RU", [
            Site(("ya.ru",), sites.page("Yandex", 5000)),
            Site(("yandex.com",), sites.moved_to("https://ya.ru/")),
            Site(("xn--d1acpjx3f.xn--p1ai",), sites.moved_to("https://yandex.com/")),
        ]),
        Host("10.200.8.10", 64608, "Lab Broken Hosting", "US", [
            Site(("www.example.net",), sites.server_error(500)),
        ]),
        Host("10.200.9.10", 64609, "Lab Dead Hosting", "US", [
            Site(("down.example.net",), default),
        ], http=False, https=False),
        Host(plan.BLOCKPAGE, 64610, "Lab Censor Blockpages", "ZZ", [
            Site(("blockpage",), sites.blockpage("Lab national regulator")),
        ], https=False, in_dns=False),
    ]  # fmt: skip


def _service_hosts() -> list[Host]:
    vantage = (64650, "Lab Measurement Infrastructure", "DE")
    return [
        Host(plan.TEST_HELPER, *vantage, [Site((TEST_HELPER_NAME,), sites.page("th"))],
             http=False, https=False),
        Host(plan.COLLECTOR, *vantage, [Site((COLLECTOR_NAME,), sites.page("c"))],
             http=False, https=False),
        Host(plan.IP_DISCOVERY, *vantage,
             [Site((IP_DISCOVERY_NAME,), sites.ip_discovery)]),
        Host(plan.PUBLIC_RESOLVERS[0], 64653, "Lab Public DNS", "US", http=False,
             https=False),
        Host(plan.PUBLIC_RESOLVERS[1], 64653, "Lab Public DNS", "US", http=False,
             https=False),
        Host(plan.AUTHORITATIVE, 64654, "Lab Root DNS", "US", http=False,
             https=False),
    ]  # fmt: skip


_FACEBOOK = (32934, "FACEBOOK", "US")
_NOTHING = sites.page("nothing")  # never served: the host has no HTTP port


def _app_hosts() -> list[Host]:
    """WhatsApp, Messenger, Telegram and Signal, as their nettests expect them.

    Operators carry their real AS numbers: facebook_messenger checks that its
    names resolve into AS32934, and scoring compares answers' ASNs.
    """
    return [*_whatsapp_hosts(), *_facebook_hosts(), *_telegram_hosts(),
            *_signal_hosts()]  # fmt: skip


def _whatsapp_hosts() -> list[Host]:
    # The chat endpoints speak WhatsApp's own protocol, not TLS or HTTP: the
    # test only connects, so they accept and say nothing on 443 and 5222.
    endpoints = [
        Host(address, *_FACEBOOK, [Site((f"e{n}.whatsapp.net",), _NOTHING)],
             http=False, https=False, silent_ports=(443, 5222))
        for n, address in enumerate(plan.WHATSAPP_ENDPOINTS, start=1)
    ]  # fmt: skip
    # The lab's own answer to a request without parameters; the test ignores it.
    refusal = '{"status": "fail", "reason": "missing_param"}'
    return [
        *endpoints,
        Host(plan.WHATSAPP_REGISTRATION, *_FACEBOOK, [Site(("v.whatsapp.net",),
             sites.api_answer(400, refusal, "application/json"))], http=False),
        Host(plan.WHATSAPP_WEB, *_FACEBOOK, [
            Site(("web.whatsapp.com",), sites.page("WhatsApp Web", 6000)),
        ]),
    ]  # fmt: skip


def _facebook_hosts() -> list[Host]:
    edge = ("b-api.facebook.com", "b-graph.facebook.com", "edge-mqtt.facebook.com",
            "star.c10r.facebook.com")  # fmt: skip
    cdn = ("external.xx.fbcdn.net", "scontent.xx.fbcdn.net")
    return [
        Host(plan.FACEBOOK_EDGE, *_FACEBOOK, [Site(edge, sites.page("Facebook"))],
             http=False),
        Host(plan.FACEBOOK_CDN, *_FACEBOOK, [Site(cdn, sites.page("Facebook CDN"))],
             http=False),
        # Shortcoming: STUN (UDP 3478) is not served; the test only resolves it.
        Host(plan.FACEBOOK_STUN, *_FACEBOOK, [Site(("stun.fbsbx.com",), _NOTHING)],
             http=False, https=False),
    ]  # fmt: skip


def _telegram_hosts() -> list[Host]:
    telegram = (62041, "TELEGRAM", "GB")
    # An empty POST to / is no MTProto request: the data centers answer 404,
    # over cleartext HTTP on 80 and on 443 alike, as the test expects.
    not_mtproto = sites.api_answer(404, "", "text/plain")
    datacenters = [
        Host(address, *telegram, [Site((f"dc{n}.telegram.lab",), not_mtproto)],
             https=False, in_dns=False, cleartext_ports=(443,))
        for n, address in enumerate(plan.TELEGRAM_DATACENTERS, start=1)
    ]  # fmt: skip
    web = Site(("web.telegram.org",), sites.page("Telegram Web", 5000))
    return [*datacenters, Host(plan.TELEGRAM_WEB, *telegram, [web])]


def _signal_hosts() -> list[Host]:
    amazon = (16509, "AMAZON-02", "US")
    backends = ("cdsi.signal.org", "chat.signal.org", "sfu.voip.signal.org",
                "storage.signal.org")  # fmt: skip
    not_found = sites.api_answer(
        404, '{"code": 404, "message": "HTTP 404 Not Found"}', "application/json"
    )
    return [
        Host(plan.SIGNAL_BACKENDS, *amazon,
             [Site(backends, not_found, CertKind.PINNED)], http=False),
        Host(plan.SIGNAL_UPTIME, *amazon, [Site(("uptime.signal.org",), _NOTHING)],
             http=False, https=False),
    ]  # fmt: skip


def _report_hosts() -> list[Host]:
    """The websites OONI's Mali 2018 report found blocked on election night."""
    return [
        Host(plan.TWITTER, 13414, "TWITTER", "US", [
            Site(("twitter.com", "www.twitter.com"), sites.page("Twitter", 12000)),
        ]),
        Host(plan.GUARDIAN_PROJECT, 64621, "Lab Nonprofit Hosting", "US", [
            Site(("guardianproject.info",), sites.page("Guardian Project", 9000)),
        ]),
        Host(plan.ANONYMIZER, 64622, "Lab Moscow Hosting", "RU", [
            Site(("www.anonymizer.ru", "anonymizer.ru"),
                 sites.page("Anonymizer.ru", 7000)),
        ]),
    ]  # fmt: skip


def add_target_sites(internet: Internet, urls: list[str]) -> None:
    """Give every target hostname not yet served a realistic site of its own.

    Each new site gets its own address and AS (10.210.N.10, AS 64700+N), so
    that a DNS lie pointing at another site is inconsistent by ASN too.
    """
    for url in urls:
        name = (urlsplit(url).hostname or "").lower()
        if not name or internet.has_name(name) or _is_ip(name):
            continue
        number = sum(1 for h in internet.hosts if h.address.startswith("10.210."))
        title = f"{name} - news and information"
        host = Host(f"10.210.{number + 1}.10", 64700 + number + 1,
                    f"Lab Hosting {number + 1}", "US",
                    [Site((name,), sites.page(title, 24000))])  # fmt: skip
        internet.add(host)
