"""The censor: actions on targets, turned into rules in an ISP's router.

An action names what the censor does (``tls-reset``, ``dns-nxdomain``...) and
to which hostname.  ``Censor.apply`` replaces everything in force with a new
set of actions, atomically per mechanism:

- packet filtering: an iptables chain ``CS-CENSOR`` on traffic coming from
  subscribers (string matches on the SNI, the Host, the DNS query name);
- on-path DNS injection: queries for a blocked name, to *any* resolver, are
  DNATed to the censor's injector, a lying DNS server in the router.  We
  chose DNAT over NFQUEUE because it needs no compiled extension, cannot
  race the genuine answer, and conntrack rewrites the reply's source so it
  seems to come from the resolver the client asked;
- the ISP resolver's own lies (for clients that use it only);
- the transparent proxy (blockpage, redirect), reached by DNAT of port 80;
- throttling: an HTB class with a TBF rate limit for traffic from the
  target's addresses to subscribers (the kernel has no netem).
After each change the router's conntrack table is flushed, so a NAT decision
taken under the previous policy cannot outlive it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from censorscope.lab import netns
from censorscope.lab.dnsserver import DnsLie, DnsOverride, DnsResponder
from censorscope.lab.proxy import ProxyVerdict, TransparentProxy

logger = logging.getLogger(__name__)

FILTER_CHAIN = "CS-CENSOR"
NAT_CHAIN = "CS-REDIRECT"
SUBSCRIBER_LINK = "down"  # the router's interface towards the client
UPLINK = "up"


class Action(enum.StrEnum):
    """Everything the lab's censor knows how to do."""

    DNS_NXDOMAIN = "dns-nxdomain"
    DNS_NO_ANSWER = "dns-no-answer"
    DNS_SERVFAIL = "dns-servfail"
    DNS_BOGON = "dns-bogon"
    DNS_LOCALHOST = "dns-localhost"
    DNS_HIJACK = "dns-hijack"  # to the blockpage server
    DNS_PROXY = "dns-proxy"  # to the ISP's transparent proxy
    DNS_LIE = "dns-lie"  # to the given addresses
    DNS_DROP = "dns-drop"
    IP_BLACKHOLE = "ip-blackhole"
    IP_REJECT = "ip-reject"
    IP_RESET = "ip-reset"
    TLS_RESET = "tls-reset"
    TLS_DROP = "tls-drop"
    HTTP_RESET = "http-reset"
    HTTP_BLOCKPAGE = "http-blockpage"
    HTTP_REDIRECT = "http-redirect"
    THROTTLE = "throttle"


class DnsPlace(enum.StrEnum):
    """Where a DNS action happens."""

    RESOLVER = "resolver"  # the ISP's resolver lies; other resolvers are fine
    PATH = "path"  # injection on the path: every UDP resolver is affected


@dataclass(frozen=True)
class CensorAction:
    """One action on one target (a hostname, or an address for ``ip-*``)."""

    action: Action
    target: str
    via: DnsPlace = DnsPlace.RESOLVER
    addresses: tuple[str, ...] = ()  # dns-lie answers
    ports: tuple[int, ...] = ()  # ip-*: empty means every port
    rate: str = "64kbit"  # throttle

    def describe(self) -> str:
        where = f" ({self.via})" if self.action.value.startswith("dns-") else ""
        return f"{self.action}{where} {self.target}"


@dataclass(frozen=True)
class RouterIdentity:
    """What the censor needs to know about the ISP it sits in."""

    namespace: str
    injector: str
    proxy: str
    blockpage: str
    bogon: str


@dataclass
class _Plan:
    """An action list compiled into the state of each mechanism."""

    filter_rules: list[str] = field(default_factory=list)
    nat_rules: list[str] = field(default_factory=list)
    resolver: dict[str, DnsOverride] = field(default_factory=dict)
    injector: dict[str, DnsOverride] = field(default_factory=dict)
    proxy: dict[str, ProxyVerdict] = field(default_factory=dict)
    throttled: dict[str, str] = field(default_factory=dict)  # address -> rate


def install_chains(namespace: str) -> None:
    """Create the (empty) censor chains once, when the router is built."""
    script = [
        "*filter", f":{FILTER_CHAIN} - [0:0]",
        f"-A FORWARD -i {SUBSCRIBER_LINK} -j {FILTER_CHAIN}",
        f"-A INPUT -i {SUBSCRIBER_LINK} -j {FILTER_CHAIN}", "COMMIT",
        "*nat", f":{NAT_CHAIN} - [0:0]",
        f"-A PREROUTING -i {SUBSCRIBER_LINK} -j {NAT_CHAIN}", "COMMIT", "",
    ]  # fmt: skip
    netns.run(_iptables_restore(namespace), stdin="\n".join(script))


def _iptables_restore(namespace: str) -> list[str]:
    return netns.in_namespace(namespace, ["iptables-restore", "--noflush"])


class Censor:
    """The censor of one ISP, driving its router, resolver, injector, proxy."""

    def __init__(
        self,
        router: RouterIdentity,
        resolve: Callable[[str], tuple[str, ...]],
        resolver: DnsResponder,
        injector: DnsResponder,
        proxy: TransparentProxy,
        *,
        on_loop: Callable[[Callable[[], None]], None],
    ) -> None:
        self._router = router
        self._resolve = resolve
        self._resolver = resolver
        self._injector = injector
        self._proxy = proxy
        self._on_loop = on_loop
        self.in_force: tuple[CensorAction, ...] = ()

    def apply(self, actions: Sequence[CensorAction]) -> None:
        """Make exactly ``actions`` the censor's policy."""
        plan = _Plan()
        for action in actions:
            self._compile(action, plan)
        self._load_rules(plan)
        self._load_throttling(plan.throttled)
        self._on_loop(lambda: self._load_servers(plan))
        netns.run(netns.in_namespace(self._router.namespace, ["conntrack", "-F"]))
        self.in_force = tuple(actions)
        logger.info(
            "censor %s: %s",
            self._router.namespace,
            ", ".join(a.describe() for a in actions) or "nothing",
        )

    def clear(self) -> None:
        self.apply(())

    def _load_rules(self, plan: _Plan) -> None:
        filters = [f"-A {FILTER_CHAIN} {rule}" for rule in plan.filter_rules]
        nats = [f"-A {NAT_CHAIN} {rule}" for rule in plan.nat_rules]
        script = ["*filter", f":{FILTER_CHAIN} - [0:0]", *filters, "COMMIT"]
        script += ["*nat", f":{NAT_CHAIN} - [0:0]", *nats, "COMMIT", ""]
        netns.run(_iptables_restore(self._router.namespace), stdin="\n".join(script))

    def _load_servers(self, plan: _Plan) -> None:
        self._resolver.set_overrides(plan.resolver)
        self._injector.set_overrides(plan.injector)
        self._proxy.set_blocked(plan.proxy)

    def _load_throttling(self, throttled: dict[str, str]) -> None:
        tc = ["tc"]
        namespace = self._router.namespace
        netns.run(
            netns.in_namespace(namespace, [*tc, "qdisc", "del", "dev", SUBSCRIBER_LINK,
                                           "root"]), check=False,
        )  # fmt: skip
        if not throttled:
            return
        for command in _throttle_commands(throttled):
            netns.run(netns.in_namespace(namespace, [*tc, *command]))

    def _compile(self, action: CensorAction, plan: _Plan) -> None:
        kind = action.action
        if kind.value.startswith("dns-"):
            self._compile_dns(action, plan)
        elif kind.value.startswith("ip-"):
            plan.filter_rules += _ip_rules(action, self._addresses(action.target))
        elif kind in (Action.TLS_RESET, Action.TLS_DROP):
            plan.filter_rules.append(_string_rule(action, 443))
        elif kind is Action.HTTP_RESET:
            plan.filter_rules.append(_string_rule(action, 80))
        elif kind in (Action.HTTP_BLOCKPAGE, Action.HTTP_REDIRECT):
            self._compile_proxy(action, plan)
        elif kind is Action.THROTTLE:
            for address in self._addresses(action.target):
                plan.throttled[address] = action.rate

    def _addresses(self, target: str) -> tuple[str, ...]:
        addresses = self._resolve(target)
        if not addresses:
            raise ValueError(f"{target} has no address in the lab's internet")
        return addresses

    def _compile_dns(self, action: CensorAction, plan: _Plan) -> None:
        override = self._dns_override(action)
        name = action.target.lower()
        if action.via is DnsPlace.RESOLVER:
            plan.resolver[name] = override
            return
        match = _qname_match(name)
        if override.lie is DnsLie.DROP:
            plan.filter_rules.append(f"-p udp --dport 53 {match} -j DROP")
            return
        plan.injector[name] = override
        plan.nat_rules.append(
            f"-p udp --dport 53 {match} -j DNAT --to-destination "
            f"{self._router.injector}:53"
        )

    def _dns_override(self, action: CensorAction) -> DnsOverride:
        lies = {
            Action.DNS_NXDOMAIN: DnsOverride(DnsLie.NXDOMAIN),
            Action.DNS_NO_ANSWER: DnsOverride(DnsLie.NO_ANSWER),
            Action.DNS_SERVFAIL: DnsOverride(DnsLie.SERVFAIL),
            Action.DNS_DROP: DnsOverride(DnsLie.DROP),
        }
        addresses = {
            Action.DNS_BOGON: (self._router.bogon,),
            Action.DNS_LOCALHOST: ("127.0.0.1",),
            Action.DNS_HIJACK: (self._router.blockpage,),
            Action.DNS_PROXY: (self._router.proxy,),
            Action.DNS_LIE: action.addresses,
        }
        if action.action in lies:
            return lies[action.action]
        return DnsOverride(DnsLie.ADDRESSES, addresses[action.action])

    def _compile_proxy(self, action: CensorAction, plan: _Plan) -> None:
        verdict = (
            ProxyVerdict.REDIRECT
            if action.action is Action.HTTP_REDIRECT
            else ProxyVerdict.BLOCKPAGE
        )
        plan.proxy[action.target.lower()] = verdict
        rule = f"-p tcp --dport 80 -j DNAT --to-destination {self._router.proxy}:80"
        if rule not in plan.nat_rules:
            plan.nat_rules.append(rule)


def _qname_match(name: str) -> str:
    """An iptables match for DNS queries carrying ``name`` (wire format)."""
    wire = "".join(f"|{len(label):02x}|{label}" for label in name.split("."))
    return f'-m string --hex-string "{wire}|00|" --algo bm --icase'


# Shortcoming: string matches are substrings, so blocking ``example.com`` also
# blocks ``www.example.com`` (like most keyword DPI); they see one segment only,
# and there is no "close with FIN" (eof_error) action yet.
def _string_rule(action: CensorAction, port: int) -> str:
    """Reset or drop TCP segments to ``port`` that carry the target's name."""
    verdict = "DROP" if action.action is Action.TLS_DROP else _RESET
    match = f'-m string --string "{action.target}" --algo bm --icase'
    return f"-p tcp --dport {port} {match} -j {verdict}"


_RESET = "REJECT --reject-with tcp-reset"


def _ip_rules(action: CensorAction, addresses: Iterable[str]) -> list[str]:
    rules = []
    for address in addresses:
        ports = [f"-p tcp --dport {port}" for port in action.ports] or [
            "" if action.action is Action.IP_BLACKHOLE else "-p tcp"
        ]
        for port in ports:
            rules.append(f"-d {address} {port} {_ip_verdict(action.action)}")
    return rules


def _ip_verdict(action: Action) -> str:
    if action is Action.IP_BLACKHOLE:
        return "-j DROP"
    if action is Action.IP_REJECT:
        return f"--tcp-flags SYN,ACK,RST SYN -j {_RESET}"
    # ip-reset: let the handshake through, reset once data flows.
    return f"--tcp-flags PSH PSH -j {_RESET}"


# Shortcoming: throttling shapes only traffic from the target's addresses to
# subscribers (by IP, not by SNI) and adds no latency or loss (no netem).
def _throttle_commands(throttled: dict[str, str]) -> list[list[str]]:
    dev = ["dev", SUBSCRIBER_LINK]
    commands = [
        ["qdisc", "add", *dev, "root", "handle", "1:", "htb", "default", "1"],
        ["class", "add", *dev, "parent", "1:", "classid", "1:1", "htb", "rate",
         "1gbit", "quantum", "200000"],
    ]  # fmt: skip
    for number, (address, rate) in enumerate(sorted(throttled.items()), start=2):
        commands += [
            ["class", "add", *dev, "parent", "1:", "classid", f"1:{number}", "htb",
             "rate", "1gbit", "quantum", "200000"],
            ["qdisc", "add", *dev, "parent", f"1:{number}", "handle", f"{number}0:",
             "tbf", "rate", rate, "burst", "4kb", "latency", "400ms"],
            ["filter", "add", *dev, "parent", "1:", "protocol", "ip", "prio", "1",
             "u32", "match", "ip", "src", f"{address}/32", "flowid", f"1:{number}"],
        ]  # fmt: skip
    return commands
