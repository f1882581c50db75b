"""Child process for the session-expiry scenario.

usage: session_child.py HOST:PORT PATH TIMEOUT_SECONDS

Connects with the requested session timeout, creates PATH as an ephemeral
node, prints `ready <negotiated timeout ms> <session id>` and then idles
(bounded) until the test SIGKILLs it, so the socket closes without a
closeSession request.
"""

import sys
import time

from kazoo.client import KazooClient

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from harness.kz import _capture_negotiated_timeout  # noqa: E402

MAX_LIFETIME_S = 120.0


def main() -> int:
    addr, path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    client = KazooClient(hosts=addr, timeout=timeout)
    _capture_negotiated_timeout(client)
    client.start(timeout=15)
    client.create(path, b"child", ephemeral=True, makepath=True)
    print(f"ready {client.negotiated_timeout_ms} {client.client_id[0]}", flush=True)
    time.sleep(MAX_LIFETIME_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
