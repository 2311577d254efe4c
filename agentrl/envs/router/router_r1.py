"""Router-R1's own router prompts, candidate prompt, model pool, prices and model-name resolution.

Source: github.com/ulab-uiuc/Router-R1 (Apache-2.0; commit 801a240):

* ``data_process/prompt_pool.py`` -- the router's prompt, one template per base model family
  (``PROMPT_TEMPLATE_QWEN``, ``PROMPT_TEMPLATE_LLAMA``);
* ``router_r1/llm_agent/route_service.py`` -- the candidate prompt (``AGENT_PROMPT``), the prices
  (``API_PRICE_1M_TOKENS``), the sampling temperature per model and the model-name parser
  (``check_llm_name``);
* ``data_process/qa_test_gen.py`` -- how test questions are drawn and prefixed.

The three prompts below are kept character for character, because a released Router-R1 checkpoint
was trained on exactly this text (``tests/envs/test_router_r1_upstream.py`` pins their SHA-256 to
the strings upstream's Python evaluates to). They are upstream's text, not ours; the backslash line
continuations are part of it. Everything else in this module is re-written.
"""

from __future__ import annotations

import random
from typing import Sequence

from agentrl.envs.router.pool import ModelSpec

# fmt: off
# --- upstream text (Apache-2.0), unchanged ----------------------------------------
_QWEN_TEMPLATE = """
Answer the given question. \
Every time you receive new information, you must first conduct reasoning inside <think> ... </think>. \
After reasoning, if you find you lack some knowledge, you can call a specialized LLM by writing a query inside <search> LLM-Name:Your-Query </search>. \

!!! STRICT FORMAT RULES for <search>: !!!
    + You MUST replace LLM-Name with the EXACT name of a model selected from [Qwen2.5-7B-Instruct, LLaMA-3.1-8B-Instruct, LLaMA-3.1-70B-Instruct, Mistral-7B-Instruct, Mixtral-8x22B-Instruct, Gemma-2-27B-Instruct]. \
    + You MUST replace Your-Query with a CONCRETE QUESTION that helps answer the original question below. \
    + NEVER copy or paste model descriptions into <search>.
    + NEVER output the placeholder format <search> LLM-Name:Your-Query </search>. Always replace both parts correctly. \

Before each LLM call, you MUST explicitly reason inside <think> ... </think> about: \
    + Why external information is needed. \
    + Which model is best suited for answering it, based on the LLMs' abilities (described below). \

When you call an LLM, the response will be returned between <information> and </information>. \
You must not limit yourself to repeatedly calling a single LLM (unless its provided information is consistently the most effective and informative). \
You are encouraged to explore and utilize different LLMs to better understand their respective strengths and weaknesses. \
It is also acceptable—and recommended—to call different LLMs multiple times for the same input question to gather more comprehensive information. \


#### The Descriptions of Each LLM \

Qwen2.5-7B-Instruct:\
Qwen2.5-7B-Instruct is a powerful Chinese-English instruction-tuned large language model designed for tasks in language, \
coding, mathematics, and reasoning. As part of the Qwen2.5 series, it features enhanced knowledge, stronger coding and \
math abilities, improved instruction following, better handling of long and structured texts, and supports up to 128K \
context tokens. It also offers multilingual capabilities across over 29 languages.\


LLaMA-3.1-8B-Instruct:\
LLaMA-3.1-8B-Instruct is an 8-billion-parameter instruction-tuned language model optimized for multilingual dialogue. \
It provides strong language understanding, reasoning, and text generation performance, outperforming many open-source \
and closed-source models on standard industry benchmarks.\


LLaMA-3.1-70B-Instruct:\
LLaMA-3.1-70B-Instruct is a 70-billion-parameter state-of-the-art language model designed for advanced multilingual \
dialogue tasks. It excels in language comprehension, complex reasoning, and high-quality text generation, setting a new \
standard against both open and closed models in benchmark evaluations.\


Mistral-7B-Instruct:\
Mistral-7B-Instruct is a fine-tuned version of the Mistral-7B-v0.3 language model designed to follow instructions, \
complete user requests, and generate creative text. It was trained on diverse public conversation datasets to enhance \
its ability to handle interactive tasks effectively.\


Mixtral-8x22B-Instruct:\
Mixtral-8x22B-Instruct is a cutting-edge sparse Mixture-of-Experts (SMoE) large language model from MistralAI. It \
efficiently uses 39B active parameters out of 141B total, delivering high performance at lower costs. The model excels \
at following instructions, completing tasks, and generating creative text, with strong skills in multiple languages \
(English, French, Italian, German, Spanish), mathematics, and coding. It also supports native function calling and \
handles long contexts up to 64K tokens for better information recall.\


Gemma-2-27B-Instruct:\
Gemma-2-27B-Instruct is a cutting-edge, instruction-tuned text generation model developed by Google. Built using the \
same technology as Gemini, it excels at text understanding, transformation, and code generation. As a lightweight, \
decoder-only model with open weights, it is ideal for tasks like question answering, summarization, and reasoning. \
Its compact size enables deployment on laptops, desktops, or private cloud setups, making powerful AI more accessible.\


If you find that no further external knowledge is needed, you can directly provide your final answer inside <answer> ... </answer>, without additional explanation or illustration. \
For example: <answer> Beijing </answer>. \
    + Important: You must not output the placeholder text "<answer> and </answer>" alone. \
    + You must insert your actual answer between <answer> and </answer>, following the correct format. \
Question: {question}\n
"""


#: Upstream's Llama template is the Qwen one with one more rule after the placeholder rule.
_PLACEHOLDER_RULE = ("    + NEVER output the placeholder format <search> LLM-Name:Your-Query </search>. "
                     "Always replace both parts correctly. ")
_LITERAL_THINK_RULE = ('    + DO NOT output <think> ... </think> as a literal string. Instead, perform your reasoning and write your thought process within these tags. That means: put your reasoning inside the tags, not as visible raw tags in the output. Only the reasoning content should appear between <think> and </think>. Do not explain or comment on the use of tags. ')
_LLAMA_TEMPLATE = _QWEN_TEMPLATE.replace(_PLACEHOLDER_RULE, _PLACEHOLDER_RULE + _LITERAL_THINK_RULE, 1)


CANDIDATE_PROMPT = """
You are a helpful assistant. \
You are participating in a multi-agent reasoning process, where a base model delegates sub-questions to specialized models like you. \
\nYour task is to do your **absolute best** to either: \n
    + Answer the question directly, if possible, and provide a brief explanation; or \n
    + Offer helpful and relevant context, background knowledge, or insights related to the question, even if you cannot fully answer it. \

If you are completely unable to answer the question or provide any relevant or helpful information, you must: \n
    + Clearly state that you are unable to assist with this question, and \n
    + Explicitly instruct the base model to consult other LLMs for further assistance. \

**Important Constraints**: \n
    + Keep your response clear, concise, and informative (preferably under 512 tokens). Your response will help guide the base model’s reasoning and next steps. \n
    + Stay strictly on-topic. Do not include irrelevant or generic content. \

\n\nHere is the sub-question for you to assist with: {query}\n
"""
# --- end of upstream text ----------------------------------------------------
# fmt: on


#: The router prompt templates by base model family (``qa_test_gen.py --model qwen|llama``).
PROMPT_TEMPLATES = {"qwen": _QWEN_TEMPLATE, "llama": _LLAMA_TEMPLATE}

#: Price in dollars per 1M completion tokens of every model upstream can call
#: (``API_PRICE_1M_TOKENS``); the cost of a call is completion tokens x this price.
ROUTER_R1_PRICES = {
    "qwen/qwen2.5-7b-instruct": 0.3,
    "meta/llama-3.1-70b-instruct": 0.88,
    "meta/llama-3.1-8b-instruct": 0.18,
    "mistralai/mistral-7b-instruct-v0.3": 0.2,
    "mistralai/mixtral-8x22b-instruct-v0.1": 1.2,
    "google/gemma-2-27b-it": 0.8,
    "writer/palmyra-creative-122b": 1.8,
    "nvidia/llama3-chatqa-1.5-8b": 0.18,
}

#: Model ids ``check_llm_name`` can return that have no price upstream (a call to one raises
#: ``KeyError`` there); here they are valid names outside the pool (answered ``None``).
UNPRICED_IDS = ("nvidia/llama-3.1-nemotron-51b-instruct", "nvidia/llama-3.3-nemotron-super-49b-v1",
                "ibm/granite-3.0-8b-instruct")
#: Every model id ``check_llm_name`` can return.
ROUTER_R1_IDS = (*ROUTER_R1_PRICES, *UNPRICED_IDS)


def resolve_model_name(written: str) -> str:
    """The model id a router-written name selects, as Router-R1's ``check_llm_name`` decides it.

    The name is lower-cased and stripped (upstream's callers do that), then tested for family
    substrings in upstream's order: ``qwen``; ``palmyra`` or ``creative``; ``llama`` with a size
    (``70b``, ``51b``, ``49b``, ``8b``, where ``8b`` plus ``chatqa`` is ChatQA; ``llama`` without a
    size selects nothing); ``mistral``; ``mixtral``; ``granite``; ``gemma``. ``""`` when nothing
    matches. So ``Qwen``, ``LLaMA 3.1 70B`` and ``google/gemma-2-27b-it`` are all valid names.
    """
    name = written.strip().lower()
    if "qwen" in name:
        return "qwen/qwen2.5-7b-instruct"
    if "palmyra" in name or "creative" in name:
        return "writer/palmyra-creative-122b"
    if "llama" in name:
        return _llama_by_size(name)
    for family, model_id in (("mistral", "mistralai/mistral-7b-instruct-v0.3"),
                             ("mixtral", "mistralai/mixtral-8x22b-instruct-v0.1"),
                             ("granite", "ibm/granite-3.0-8b-instruct"),
                             ("gemma", "google/gemma-2-27b-it")):
        if family in name:
            return model_id
    return ""


def _llama_by_size(name: str) -> str:
    for size, model_id in (("70b", "meta/llama-3.1-70b-instruct"),
                           ("51b", "nvidia/llama-3.1-nemotron-51b-instruct"),
                           ("49b", "nvidia/llama-3.3-nemotron-super-49b-v1")):
        if size in name:
            return model_id
    if "8b" in name:
        return "nvidia/llama3-chatqa-1.5-8b" if "chatqa" in name else "meta/llama-3.1-8b-instruct"
    return ""


def router_r1_pool() -> list[ModelSpec]:
    """The six candidates the router prompt names, with upstream's ids and prices.

    The id upstream sends to its API is each model's alias and ``api_model`` (``check_llm_name``
    resolves router-written names to it); Gemma is sampled at temperature 0.1, the others at 0, as
    upstream's ``check_llm_name`` sets ``TAU``. Descriptions summarise the prompt's.
    """
    rows = (
        ("Qwen2.5-7B-Instruct", "qwen/qwen2.5-7b-instruct", None,
         "Chinese-English instruction model; language, coding, maths and reasoning; long context."),
        ("LLaMA-3.1-8B-Instruct", "meta/llama-3.1-8b-instruct", None,
         "8B multilingual dialogue model with solid understanding and reasoning."),
        ("LLaMA-3.1-70B-Instruct", "meta/llama-3.1-70b-instruct", None,
         "70B multilingual model; strong comprehension, complex reasoning and generation."),
        ("Mistral-7B-Instruct", "mistralai/mistral-7b-instruct-v0.3", None,
         "7B instruction-following model tuned on public conversation data."),
        ("Mixtral-8x22B-Instruct", "mistralai/mixtral-8x22b-instruct-v0.1", None,
         "Sparse mixture of experts (39B active of 141B); multilingual, maths, coding, long context."),
        ("Gemma-2-27B-Instruct", "google/gemma-2-27b-it", 0.1,
         "Google's open 27B model; question answering, summarisation and reasoning."),
    )
    return [ModelSpec(name=name, price_per_1m=ROUTER_R1_PRICES[model_id], description=description,
                      aliases=[model_id], api_model=model_id, temperature=temperature)
            for name, model_id, temperature, description in rows]


def router_r1_prompt(question: str, template: str = "qwen") -> str:
    """The router's whole first user message for ``question`` (upstream's ``make_prefix``)."""
    if template not in PROMPT_TEMPLATES:
        raise ValueError(f"prompt template must be one of {', '.join(PROMPT_TEMPLATES)}; got {template!r}")
    return PROMPT_TEMPLATES[template].format_map({"question": question})


def candidate_prompt(query: str) -> str:
    """The one user message a candidate model receives for a routed query (``request_task``)."""
    return CANDIDATE_PROMPT.format_map({"query": query})


def prepare_question(question: str) -> str:
    """``qa_test_gen.py``'s question clean-up: strip, then end with ``?``."""
    question = question.strip()
    return question if question.endswith("?") else question + "?"


def sample_indices(count: int, size: int = 500, seed: int = 42) -> list[int]:
    """The rows ``qa_test_gen.py`` draws from a split of ``count`` rows: ``random.seed(seed)`` then
    ``random.sample(range(count), min(count, size))`` (one dataset per run, as its README runs it)."""
    return random.Random(seed).sample(range(count), min(count, size))


def sampled(rows: Sequence, size: int = 500, seed: int = 42) -> list:
    """``rows`` at :func:`sample_indices`, in the drawn order."""
    return [rows[i] for i in sample_indices(len(rows), size, seed)]
