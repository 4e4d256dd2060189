"""Fixed facts of the sandbox: demo credentials, organizations, formats and limits.

These values are shared with every engineer's tests and with ``sample_config/`` (see the team brief):
client id ``dinero-sandbox`` / secret ``sandbox-secret``; API keys ``sandbox-api-key`` (org 100000) and
``sandbox-api-key-2`` (org 100001); Visma Connect refresh token ``sandbox-refresh-token`` (always valid,
all organizations; each refresh answers a new refresh token that is valid once).
"""

from __future__ import annotations

DEMO_CLIENT_ID = "dinero-sandbox"
DEMO_CLIENT_SECRET = "sandbox-secret"
DEMO_API_KEY = "sandbox-api-key"
DEMO_API_KEY_2 = "sandbox-api-key-2"
DEMO_REFRESH_TOKEN = "sandbox-refresh-token"

# A second registered client (not part of the fixed facts): lets tests play "another integration sharing
# the organization" whose quota is counted separately, as Dinero counts per client id.
OTHER_CLIENT_ID = "dinero-sandbox-2"
OTHER_CLIENT_SECRET = "sandbox-secret-2"

CLIENTS: dict[str, str] = {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET, OTHER_CLIENT_ID: OTHER_CLIENT_SECRET}

ORG_MAIN = "100000"
ORG_SECOND = "100001"
API_KEYS: dict[str, str] = {DEMO_API_KEY: ORG_MAIN, DEMO_API_KEY_2: ORG_SECOND}

TOKEN_TTL_SECONDS = 3600
DEFAULT_QUOTA_REQUESTS = 100
DEFAULT_QUOTA_WINDOW = 60.0

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
DEFAULT_FILES_PAGE_SIZE = 1000
MAX_UPLOAD_BYTES = 6 * 1024 * 1024
MAX_ENTRY_CHANGES_DAYS = 31

DRAFT_NUMBER = 9223372036854775807  # Int64.MaxValue: Dinero's number for a draft invoice in list rows
