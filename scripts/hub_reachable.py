"""Exit 0 when the Hugging Face Hub answers (any HTTP answer at all), 1 when it cannot be reached
within a few seconds or HF_HUB_OFFLINE is set: scripts/dev's question before it falls back to the
development copy of the test items. Imports nothing from pricer (it runs before set-up is known
to be complete) and sends no token.

    python scripts/hub_reachable.py && echo online
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT = 3.0  # seconds: a first start should not wait longer to learn it is offline


def reachable(endpoint: str, timeout: float = TIMEOUT) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint.rstrip("/") + "/api/whoami-v2", method="HEAD"),
                               timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # it answered (401 without a token): the hub is there
    except (OSError, ValueError):
        return False
    return True


def main() -> int:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return 1
    return 0 if reachable(os.environ.get("HF_ENDPOINT") or "https://huggingface.co") else 1


if __name__ == "__main__":
    sys.exit(main())
