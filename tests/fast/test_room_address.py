"""A room's join link as the projector shows it: the instructor page's address, made reachable.

An instructor on http://127.0.0.1 projected a link no phone could open (found by hand): a loopback
address becomes the share link or this machine's LAN address where the server can be reached from
the network, and is marked unreachable (a warning, no QR code) where it cannot.
"""

from ui.room_address import JoinAddress, is_loopback, lan_address
from ui.room_views import banner_html
from ui.texts import EN, ES
from ui.views import esc

from test_room_views import state


def never_looked_up():
    raise AssertionError("the LAN address was looked up for a server that listens on loopback only")


def test_a_page_opened_by_a_network_address_keeps_it_without_its_query():
    address = JoinAddress("127.0.0.1", find_lan=never_looked_up)
    assert address.link("https://team-viz.hf.space/?__theme=dark", "AB3CD") == (
        "https://team-viz.hf.space/?room=AB3CD", True)
    assert address.link("http://192.168.1.20:7860/", "AB3CD") == ("http://192.168.1.20:7860/?room=AB3CD", True)
    assert address.link(None, "AB3CD") == ("?room=AB3CD", True)  # no Referer: relative, as before


def test_a_loopback_page_on_a_server_only_this_computer_reaches_is_marked_unreachable():
    address = JoinAddress("127.0.0.1", find_lan=never_looked_up)
    for referer in ("http://127.0.0.1:7860/", "http://localhost:7860/", "http://[::1]:7860/"):
        link, reachable = address.link(referer, "AB3CD")
        assert link == referer + "?room=AB3CD" and not reachable


def test_a_loopback_page_on_a_server_listening_everywhere_gets_the_lan_address():
    address = JoinAddress("0.0.0.0", find_lan=lambda: "192.168.1.20")
    assert address.link("http://localhost:7860/", "AB3CD") == ("http://192.168.1.20:7860/?room=AB3CD", True)
    offline = JoinAddress("0.0.0.0", find_lan=lambda: None)
    assert offline.link("http://127.0.0.1:7860/", "AB3CD") == ("http://127.0.0.1:7860/?room=AB3CD", False)


def test_the_share_link_comes_first():
    address = JoinAddress("127.0.0.1", share_url=lambda: "https://abc123.gradio.live/", find_lan=never_looked_up)
    assert address.link("http://127.0.0.1:7860/", "AB3CD") == ("https://abc123.gradio.live/?room=AB3CD", True)


def test_the_banner_says_so_and_shows_no_qr_code_for_an_unreachable_link():
    link = "http://127.0.0.1:7860/?room=AB3CD"
    for texts in (EN, ES):
        warned = banner_html(state(), link, texts, reachable=False)
        assert esc(texts["room_local_only"]) in warned and "--host 0.0.0.0" in warned and "room-qr" not in warned
        plain = banner_html(state(), link, texts)
        assert "room-local-only" not in plain and "room-qr" in plain


def test_loopback_names_and_this_machines_lan_address():
    assert is_loopback("127.0.0.1") and is_loopback("LOCALHOST") and is_loopback("::1") and is_loopback("127.8.0.1")
    assert not is_loopback("192.168.1.20") and not is_loopback("team-viz.hf.space") and not is_loopback(None)
    found = lan_address()
    assert found is None or not is_loopback(found)
