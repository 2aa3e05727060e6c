"""The wire contract: the message types of the REST API (``rest``) and of the agent protocol
(``agent``, docs/agent-protocol.md).

One definition, imported by all three parties: the server's API (``suanli.adapters.api``), the
Python SDK (``suanli.client``) and the agent (``suanli.agent``). It imports only
``suanli.domain`` and pydantic — never FastAPI, SQLAlchemy, httpx, the adapters, the services or
the composition root — so the SDK and the agent stay cheap to import and cannot drift from what
the server speaks.
"""
