"""Knowledge quality (issue 16): stemmed and numeric questions rank the right passage first, a
question the knowledge base cannot answer reaches the model as "nothing matches", and the
stored ``answered`` flag is the model's own verdict."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import httpx

from rag.agent import NO_MATCH
from rag.grounded import GroundedBrain
from rag.llm import chat_model
from rag.offline import OfflineBrain
from rag.services import RagServices
from rag.verdict import NO_ANSWER
from tests.conftest import make_settings
from tests.fakes.groq_chat import FakeGroq, Text
from tests.integration.rag.conftest import TenantBot, ingest
from tests.integration.rag.test_brain import POLICY, _agent, _collect, _request
from tests.integration.rag.test_http import (  # noqa: F401 (fixtures)
    api,
    owner,
    upload,
    wait_ready,
)
from tests.support.tenants import TenantKeys
from tests.unit.rag.documents import make_docx, make_markdown
from voice_server.brain import Citation, ReplyDone

BOATS = make_docx(
    "Boat hire",
    [("Hire", ["Boats are hired at the jetty from April to October."])],
    table=[["Boat", "Per hour", "Deposit"], ["Pedalo", "15 EUR", "30 EUR"],
           ["Rowing boat", "18 EUR", "50 EUR"], ["Canadian canoe", "20 EUR", "60 EUR"]],
)  # fmt: skip
FAQ = make_markdown(
    "Frequently asked questions",
    [("Visiting", ["What does hiring include? Hiring includes the boats, the jetty and more. "
                   "How much does it cost? Prices are on our price lists. When do you open? "
                   "See the opening hours. Can I pay by card? Yes."])],
)  # fmt: skip
COURSES = make_markdown(
    "Sailing courses",
    [("Beginners", ["The beginners' sailing course runs over three weekends."]),
     ("Refunding", ["Cancelled courses are refunded within 10 days."])],
)  # fmt: skip


def _grounded(services: RagServices, url: str, fake: FakeGroq, tmp_path: Path) -> GroundedBrain:
    settings = make_settings(tmp_path, llm_provider="groq", llm_api_key=fake.api_key,
                             llm_base_url=url)  # fmt: skip
    model = chat_model(settings)
    assert model is not None
    return GroundedBrain(model, services.retriever, "groq:test")


async def test_a_stemmed_question_finds_its_passage_first_not_the_long_faq(
    services: RagServices, tenant: TenantBot
) -> None:
    await ingest(services, tenant, FAQ)
    await ingest(services, tenant, BOATS)
    courses = await ingest(services, tenant, COURSES)
    # "refunds" and "cancelling" meet "refunded" and "Cancelled" through English stemming.
    for mode in ("text", "hybrid"):
        hits = await services.retriever.search(
            tenant.tenant_id,
            "Are refunds given when cancelling a course?",
            mode=mode,  # type: ignore[arg-type]
        )
        assert hits[0].document_id == courses.id, mode
        assert "refunded within 10 days" in hits[0].content
        assert hits[0].coverage > 0.5


async def test_a_number_in_the_question_finds_the_table_row_with_that_number(
    services: RagServices, tenant: TenantBot
) -> None:
    await ingest(services, tenant, FAQ)
    boats = await ingest(services, tenant, BOATS)
    hits = await services.retriever.search(
        tenant.tenant_id, "Which boat has a 60 EUR deposit?", mode="text"
    )
    assert hits[0].document_id == boats.id
    # The row keeps its column names: the table header is in the same chunk, as Markdown.
    assert "| Canadian canoe | 20 EUR | 60 EUR |" in hits[0].content
    assert "| Boat | Per hour | Deposit |" in hits[0].content
    found = await services.retriever.retrieve(tenant.tenant_id, "Which boat has a 60 EUR deposit?")
    assert found.matched
    assert found.passages[0].document_id == boats.id


async def test_an_unrelated_question_tells_the_model_that_nothing_matches(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    await ingest(services, tenant, POLICY)
    await ingest(services, tenant, BOATS)
    found = await services.retriever.retrieve(tenant.tenant_id, "Is there a sauna or a steam room?")
    assert not found.matched, f"best relevance {found.best_relevance}"

    events = await _collect(
        _grounded(services, url, fake, tmp_path).reply(
            _request(tenant, "Is there a sauna or a steam room?")
        )
    )
    [request] = fake.requests
    system = request["messages"][0]["content"]
    assert NO_MATCH[:-1] in system  # "No passage of the knowledge base matches this search"
    assert "Refunds are paid within 14 days" not in system, "no passage is offered as an answer"
    assert "The knowledge base covers: " in system
    assert "Returns policy" in system  # what it can help with
    assert "Boat hire" in system
    assert NO_ANSWER in system  # the instruction to mark the reply
    assert not [e for e in events if isinstance(e, Citation)]
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is False
    assert NO_ANSWER not in done.text
    assert done.text == "I could not find that in the documents."


async def test_the_agent_is_told_nothing_matches_and_its_marked_reply_is_not_answered(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    await ingest(services, tenant, POLICY)
    events = await _collect(
        _agent(services, url, fake, tmp_path).reply(_request(tenant, "Can I bring my dog?"))
    )
    tool_result = next(m for m in fake.requests[1]["messages"] if m["role"] == "tool")
    assert "No passage of the knowledge base matches this search" in tool_result["content"]
    assert "Returns policy" in tool_result["content"]
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is False
    assert NO_ANSWER not in done.text


async def test_a_reply_that_answers_despite_weak_passages_is_the_models_call(
    services: RagServices, tenant: TenantBot, groq: tuple[FakeGroq, str], tmp_path: Path
) -> None:
    fake, url = groq
    await ingest(services, tenant, POLICY)
    # The model answers from the conversation, without the marker: answered is its verdict.
    fake.script = [Text("You told me earlier: Ada.")]
    events = await _collect(
        _grounded(services, url, fake, tmp_path).reply(_request(tenant, "What is my name?"))
    )
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is True
    # And a marker split across stream deltas is still found and removed.
    fake.script = [Text(f"{NO_ANSWER} Sorry, I do not know that.")]
    events = await _collect(
        _grounded(services, url, fake, tmp_path).reply(_request(tenant, "What is my name?"))
    )
    done = events[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is False
    assert done.text == "Sorry, I do not know that."
    assert "".join(e.text for e in events if type(e).__name__ == "TextDelta") == done.text


async def test_a_two_part_question_gets_passages_for_both_parts(
    services: RagServices, tenant: TenantBot
) -> None:
    policy = await ingest(services, tenant, POLICY)
    boats = await ingest(services, tenant, BOATS)
    await ingest(services, tenant, COURSES)
    found = await services.retriever.retrieve_parts(
        tenant.tenant_id, "How long until refunds are paid, and what deposit does a pedalo need?"
    )
    assert found.matched
    documents = [p.document_id for p in found.passages[:3]]
    assert policy.id in documents
    assert boats.id in documents


async def test_the_offline_answerer_does_not_read_back_an_unrelated_passage(
    services: RagServices, tenant: TenantBot
) -> None:
    await ingest(services, tenant, POLICY)
    brain = OfflineBrain(services.retriever)
    unrelated = await _collect(brain.reply(_request(tenant, "Is there a sauna or a steam room?")))
    done = unrelated[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is False
    assert "Returns policy" in done.text  # it offers what the knowledge base covers
    related = await _collect(brain.reply(_request(tenant, "How long do refunds take?")))
    done = related[-1]
    assert isinstance(done, ReplyDone)
    assert done.answered is True
    assert "14 days" in done.text


async def test_answered_is_stored_from_the_models_verdict_through_chat(
    api: httpx.AsyncClient,  # noqa: F811
    owner: TenantKeys,  # noqa: F811
    database_url: str,
) -> None:
    response = await upload(api, owner, "policy.md", POLICY)
    assert (await wait_ready(api, owner, response.json()["id"]))["status"] == "ready"
    answers = {}
    for question in ("How long do refunds take?", "Is there a sauna or a steam room?"):
        reply = await api.post(
            f"/v1/bots/{owner.bot_id}/chat",
            json={"message": question, "stream": False},
            headers=owner.secret_headers,
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert NO_ANSWER not in body["text"]
        connection = await asyncpg.connect(database_url)
        try:
            stored = await connection.fetchval(
                """SELECT answered FROM messages
                   WHERE conversation_id = $1 AND role = 'assistant'""",
                uuid.UUID(body["conversation_id"]),
            )
        finally:
            await connection.close()
        answers[question] = (body["answered"], stored)
    assert answers == {
        "How long do refunds take?": (True, True),
        "Is there a sauna or a steam room?": (False, False),
    }
