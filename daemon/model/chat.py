"""Wrapping a synthesis prompt in the model's chat format, keeping trusted and untrusted text apart.

Why not the model's Jinja template: it would tokenize the whole string with special tokens enabled, so a sample
that contains `<|im_end|>` would close the turn. Here the template pieces (trusted) are tokenized with special
tokens on and the prompt (untrusted sample text inside) with special tokens off, then concatenated.

Formats: ChatML (`<|im_start|>`, SmolLM2, Qwen and most small instruct models) when the GGUF's chat template
uses it, else a plain `User:` / `Assistant:` transcript, which any base model continues sensibly.
"""

from __future__ import annotations

from typing import Final

from llmojid.daemon.model.runner import Session

CHATML_SYSTEM: Final = "You are a careful annotator. You describe the emotional tone of kaomoji."


def _template(session: Session) -> str:
    metadata = getattr(session.llm, "metadata", None) or {}
    return str(metadata.get("tokenizer.chat_template", ""))


def uses_chatml(session: Session) -> bool:
    """Whether the loaded model's chat template is ChatML."""
    return "<|im_start|>" in _template(session)


def chat_tokens(session: Session, prompt: str) -> list[int]:
    """Tokens for: system turn, user turn holding `prompt`, open assistant turn (no answer text yet)."""
    if uses_chatml(session):
        head = f"<|im_start|>system\n{CHATML_SYSTEM}<|im_end|>\n<|im_start|>user\n"
        tail = "<|im_end|>\n<|im_start|>assistant\n"
        bos = [int(session.llm.token_bos())] if _needs_bos(session) else []
        return bos + session.tokenize_template(head) + session.tokenize(prompt) + session.tokenize_template(tail)
    return (
        session.tokenize(f"{CHATML_SYSTEM}\n\nUser: ", bos=True)
        + session.tokenize(prompt)
        + session.tokenize("\n\nAssistant:")
    )


def _needs_bos(session: Session) -> bool:
    metadata = getattr(session.llm, "metadata", None) or {}
    return str(metadata.get("tokenizer.ggml.add_bos_token", "false")).lower() == "true"
