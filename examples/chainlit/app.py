"""A Chainlit app for xtalk's isolation tests: password login, a scripted model, one tool.

Every user who gives the password in ``XTALK_CHAINLIT_PASSWORD`` logs in under the name they
typed. A request runs a LangChain agent (``create_agent``) whose model is scripted: it calls the
tool ``get_weather`` once with the request's text, then answers; Chainlit's LangChain callback
handler turns the agent's runs, model calls and tool call into steps. The answer is streamed
token by token and echoes the request text, so the harness's content markers travel back.
No network, no real model.

Run it (see README.md):
    CHAINLIT_AUTH_SECRET=<32+ characters> XTALK_CHAINLIT_PASSWORD=<password> \\
        chainlit run app.py --host 127.0.0.1 --port 8765 --headless
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import chainlit as cl
from langchain.agents import create_agent
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool

PASSWORD = os.environ.get("XTALK_CHAINLIT_PASSWORD", "")
TOOL_SECONDS = float(os.environ.get("XTALK_CHAINLIT_TOOL_SECONDS", "0.3"))  # how long the tool "works"
TOKEN_SECONDS = float(os.environ.get("XTALK_CHAINLIT_TOKEN_SECONDS", "0.02"))  # between streamed tokens


@cl.password_auth_callback
def check_password(username: str, password: str) -> cl.User | None:
    if PASSWORD and password == PASSWORD:
        return cl.User(identifier=username, metadata={"provider": "credentials"})
    return None


@tool
async def get_weather(city: str) -> str:
    """The weather in a city."""
    await asyncio.sleep(TOOL_SECONDS)
    return f"It is sunny in {city}."


class ScriptedToolModel(BaseChatModel):
    """First turn: one call of ``get_weather`` with the user's text. Second turn (after the tool
    answered): the answer, echoing the user's text."""

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-model"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedToolModel:
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        asked = next((str(m.content) for m in messages if isinstance(m, HumanMessage)), "")
        if isinstance(messages[-1], ToolMessage):
            reply = AIMessage(content=f"The weather is sunny in {asked}.")
        else:
            reply = AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": asked},
                                                       "id": "call_get_weather", "type": "tool_call"}])
        return ChatResult(generations=[ChatGeneration(message=reply)])


AGENT = create_agent(ScriptedToolModel(), tools=[get_weather])


@cl.on_chat_start
async def start() -> None:
    cl.user_session.set("turns", 0)


@cl.on_message
async def answer(message: cl.Message) -> None:
    user = cl.user_session.get("user")
    name = user.identifier if user is not None else "anonymous"
    result = await AGENT.ainvoke({"messages": [HumanMessage(content=message.content)]},
                                 config={"callbacks": [cl.AsyncLangchainCallbackHandler()]})
    text = f"[for {name}] {result['messages'][-1].content}"
    reply = cl.Message(content="")
    for word in text.split(" "):
        await reply.stream_token(word + " ")
        await asyncio.sleep(TOKEN_SECONDS)
    await reply.send()
