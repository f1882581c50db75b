"""Four-letter words that the harness itself relies on (ruok, srvr)."""

import re

from harness.scenario import scenario
from harness.servers import four_letter


@scenario
def test_fourletter_ruok_srvr(t):
    out = [f"ruok -> {four_letter(t.host, t.port, 'ruok')!r}"]
    srvr = four_letter(t.host, t.port, "srvr")
    for line in srvr.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            out.append(f"srvr line without ':': {line!r}")
        elif key == "Mode":
            out.append(f"srvr Mode:{value}")
        elif key == "Zxid":
            out.append(f"srvr Zxid is hex: {bool(re.fullmatch(r' 0x[0-9a-f]+', value))}")
        elif key in ("Received", "Sent", "Connections", "Outstanding", "Node count"):
            out.append(f"srvr {key} is a number: {value.strip().isdigit()}")
        else:
            out.append(f"srvr {key}")
    return out
