"""The OpenAI-compatible chat API under `/v1/`: chat front-ends and the `openai` client talk to
Quarry with a Quarry API token as their API key. An interface like kb.api, over the same
kb.answering functions: same access policy, rate limit, query log, answer cache and metrics."""
