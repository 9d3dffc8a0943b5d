"""The names, limits and reasons that the parts of notifications share."""

from __future__ import annotations

from pathlib import Path

PICKUP_READY = "pickup_ready"
SEND_JOB = "commerce.send_notification"
MAX_ATTEMPTS = 8  # 10 s, 20 s, … : the last try is about 21 minutes after the first
HOURS_DAYS = 7  # opening hours shown for at most this many days
LOCALES = ("it", "en")
DEFAULT_LOCALE = "it"
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "mail"
ERROR_LIMIT = 2000

# Reasons kept in `last_error` (English for the logs; the outbox page translates them).
NO_CUSTOMER = "the order has no customer"
CUSTOMER_GONE = "the customer's profile no longer exists"
IN_FLIGHT = "sending: no answer recorded yet"
INTERRUPTED = "an earlier attempt stopped while sending and may have been delivered too"
