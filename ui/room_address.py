"""The address a room's attendees type or scan: the instructor page's own, made reachable from a phone.

The join link is the instructor page's address (the request's Referer) with `?room=CODE`. An
instructor who opened the app as http://127.0.0.1:7860 (what `make run` prints) would project a link
no phone in the room can open, so a loopback address is replaced, in this order, by the public share
link (`--share`), or this machine's address on the local network when the server listens on every
interface (`--host 0.0.0.0`); otherwise the link stays as it is and is marked unreachable, and the
banner says how to start the server so that phones can join (and shows no QR code).
What is left out: a proxy that rewrites the Referer, and choosing among several network interfaces
(the one the default route leaves by is taken; none on a machine offline without a network).
"""

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


def is_loopback(hostname):
    if (hostname or "").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def lan_address():
    """This machine's IPv4 address on its local network, or None (no network): the source address of a
    route to a documentation address (a UDP connect sends no packet)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if is_loopback(address) or address == "0.0.0.0" else address


class JoinAddress:
    """Where this server can be reached: the host it listens on, its share link (a callable, as Gradio
    knows it only once launched) and its LAN address (found when first needed)."""

    def __init__(self, listen_host="127.0.0.1", share_url=None, find_lan=lan_address):
        self.listen_host = listen_host or ""
        self.share_url = share_url or (lambda: None)
        self._find_lan, self._lan = find_lan, None

    def link(self, referer, code):
        """-> (join link, reachable from another machine)."""
        page = urlsplit(referer or "")
        if not page.netloc:
            return f"?room={code}", True
        netloc, reachable = page.netloc, True
        if is_loopback(page.hostname):
            shared = self.share_url()
            if shared:
                return f"{shared.rstrip('/')}/?room={code}", True
            lan = self._lan_if_listening()
            netloc, reachable = (f"{lan}:{page.port}" if page.port else lan, True) if lan else (page.netloc, False)
        return urlunsplit((page.scheme, netloc, page.path or "/", f"room={code}", "")), reachable

    def _lan_if_listening(self):
        if self.listen_host not in WILDCARD_HOSTS:
            return None
        if self._lan is None:
            self._lan = self._find_lan() or ""
        return self._lan or None
