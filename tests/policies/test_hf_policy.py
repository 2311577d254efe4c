"""Token exactness: what is stored for each turn is exactly what the model saw and produced."""

import pytest
import torch

import agentrl
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.models import tiny_causal_lm
from agentrl.policies.generation import GenerationConfig
from agentrl.policies.hf import HFPolicy, _cache_of
from agentrl.models.logprobs import collate_segments, token_logprobs


class RecordingModel(torch.nn.Module):
    """Wraps a model and records every prefill (the full context each generation starts from)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config
        self.prefills = []

    def get_base_model(self):
        # As peft's wrappers do: the policy reads the forward keywords (the cache's name differs
        # between transformers versions) from the model inside.
        return self.model

    def forward(self, input_ids, attention_mask=None, **kwargs):
        cache = _cache_argument(kwargs)
        if cache is None or cache.get_seq_length() == 0:  # generation starts from nothing cached
            for row, mask in zip(input_ids.tolist(), attention_mask.tolist()):
                self.prefills.append([t for t, m in zip(row, mask) if m])
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)


def _cache_argument(kwargs):
    """The cache passed to a model's forward, under either name transformers has used for it."""
    return kwargs.get("cache", kwargs.get("past_key_values"))


@pytest.fixture()
def rollout(tiny_tokenizer):
    model = RecordingModel(tiny_causal_lm(hidden_size=32, num_layers=1, seed=3))
    policy = HFPolicy(model, tiny_tokenizer, GenerationConfig(max_new_tokens=6, context="full", reuse_kv=False),
                      seed=1)
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=4) for _ in range(3)]
    batch = run_episodes(envs, policy, grouped_specs([0, 1, 2], 1))
    return model, policy, batch


def test_stored_context_equals_model_input_every_turn(rollout, tiny_tokenizer):
    model, policy, batch = rollout
    contexts = []
    for trajectory in batch:
        context = []
        for turn in trajectory.turns:
            context = context + turn.prompt_ids if not turn.new_context else turn.prompt_ids
            contexts.append(list(context))
            context = context + turn.completion_ids
        assert len(trajectory.segments()) == 1  # full context: one sequence per episode
    assert sorted(map(tuple, contexts)) == sorted(map(tuple, model.prefills))
    first = batch[0].turns[0]
    text = tiny_tokenizer.decode(first.token_ids)
    assert text.startswith("<|im_start|>system\n") and "<|im_start|>assistant\n" in text
    second = tiny_tokenizer.decode(batch[0].turns[1].prompt_ids)
    assert "<|im_start|>user\n" in second and second.endswith("<|im_start|>assistant\n")


def test_completion_tokens_decode_to_the_action_and_logprobs_rescore(rollout, tiny_tokenizer):
    model, policy, batch = rollout
    for turn in batch.turns():
        assert tiny_tokenizer.decode(turn.completion_ids, skip_special_tokens=True) == turn.action
        assert len(turn.token_ids) == len(turn.logprobs) == len(turn.loss_mask)
        assert all(lp == 0.0 for lp, m in zip(turn.logprobs, turn.loss_mask) if not m)
    segments = [s for t in batch for s in t.segments()]
    packed = collate_segments(segments, pad_id=tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        rescored = token_logprobs(model.model, packed.input_ids, packed.attention_mask)
    assert torch.allclose(rescored * packed.loss_mask, packed.old_logprobs, atol=1e-4)


def test_generation_and_context_limits_are_flagged(tiny_tokenizer):
    model = tiny_causal_lm(hidden_size=32, num_layers=1)
    policy = HFPolicy(model, tiny_tokenizer, GenerationConfig(max_new_tokens=2, max_context_tokens=400))
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=50)]
    trajectory = run_episodes(envs, policy, grouped_specs([0], 1))[0]
    assert any(turn.generation_truncated for turn in trajectory.turns)
    assert trajectory.context_truncated and trajectory.truncated
    total = sum(len(turn.token_ids) for turn in trajectory.turns)
    assert total + 2 <= 400 < total + 2 + 200


def test_last_context_mode_starts_a_fresh_segment_every_turn(tiny_tokenizer):
    model = tiny_causal_lm(hidden_size=32, num_layers=1)
    policy = HFPolicy(model, tiny_tokenizer, GenerationConfig(max_new_tokens=3, context="last", system_prompt=False))
    trajectory = run_episodes([agentrl.make("agentrl/Sokoban-v0", max_turns=3)], policy, grouped_specs([0], 1))[0]
    assert all(turn.new_context for turn in trajectory.turns)
    assert len(trajectory.segments()) == len(trajectory.turns)
    assert not tiny_tokenizer.decode(trajectory.turns[0].token_ids).startswith("<|im_start|>system")


def test_weight_sync_changes_samples(tiny_tokenizer):
    a = tiny_causal_lm(hidden_size=32, num_layers=1, seed=0)
    b = tiny_causal_lm(hidden_size=32, num_layers=1, seed=1)
    policy = HFPolicy(a, tiny_tokenizer, GenerationConfig(max_new_tokens=4, greedy=True))
    before = policy.generate([[5, 6, 7]])
    policy.load_weights(b.state_dict())
    after = policy.generate([[5, 6, 7]])
    assert after == HFPolicy(b, tiny_tokenizer, GenerationConfig(max_new_tokens=4, greedy=True)).generate([[5, 6, 7]])
    assert torch.equal(next(policy.model.parameters()), next(b.parameters()))
    assert after != before  # two random models disagree: the samples really came from the new weights


def _greedy_rollout(tiny_tokenizer, reuse_kv):
    model = tiny_causal_lm(hidden_size=32, num_layers=2, seed=5)
    config = GenerationConfig(max_new_tokens=5, context="full", greedy=True, reuse_kv=reuse_kv)
    policy = HFPolicy(model, tiny_tokenizer, config)
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=5) for _ in range(4)]
    return model, policy, run_episodes(envs, policy, grouped_specs([0, 1, 2, 3, 4, 5], 1))


def test_kv_reuse_between_turns_changes_nothing_but_speed(tiny_tokenizer):
    model, policy, with_reuse = _greedy_rollout(tiny_tokenizer, True)
    _, _, without = _greedy_rollout(tiny_tokenizer, False)
    for a, b in zip(with_reuse, without):
        assert [t.token_ids for t in a.turns] == [t.token_ids for t in b.turns]
        for x, y in zip(a.turns, b.turns):
            assert torch.allclose(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-4)
    # stored logprobs still match a fresh scoring of the stored tokens
    segments = [s for t in with_reuse for s in t.segments()]
    packed = collate_segments(segments, pad_id=tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        rescored = token_logprobs(model, packed.input_ids, packed.attention_mask)
    assert torch.allclose(rescored * packed.loss_mask, packed.old_logprobs, atol=1e-4)


def test_kv_cache_is_reused_and_dropped_when_weights_change(tiny_tokenizer):
    model = tiny_causal_lm(hidden_size=32, num_layers=1)
    policy = HFPolicy(model, tiny_tokenizer, GenerationConfig(max_new_tokens=3, context="full"))
    fed = []
    forward = model.forward

    def counting(*args, input_ids=None, **kwargs):
        fed.append(input_ids.shape[1])
        return forward(*args, input_ids=input_ids, **kwargs)

    model.forward = counting
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=3)]
    trajectory = run_episodes(envs, policy, grouped_specs([0], 1))[0]
    prefills = [n for n in fed if n > 1]
    first_prompt = len(trajectory.turns[0].prompt_ids)
    assert prefills[0] == first_prompt
    # later turns feed only the previous turn's last token plus the new observation
    assert all(n == len(turn.prompt_ids) + 1 for n, turn in zip(prefills[1:], trajectory.turns[1:]))
    assert policy.prefixes.entries
    policy.load_weights(model.state_dict())
    assert not policy.prefixes.entries


# ------------------------------------------------------------------ the preallocated batch KV buffer
def test_buffered_layer_holds_what_the_concatenating_cache_holds():
    from transformers.cache_utils import DynamicLayer

    from agentrl.policies.prefix_cache import BufferedLayer

    torch.manual_seed(0)
    buffered, plain = BufferedLayer(capacity=7), DynamicLayer()
    storage = None
    for width in (4, 1, 1, 1, 3):  # a prefill, decode steps, then more than the planned capacity
        keys, values = torch.randn(3, 2, width, 5), torch.randn(3, 2, width, 5)
        got, want = buffered.update(keys, values), plain.update(keys, values)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
        assert buffered.get_seq_length() == plain.get_seq_length()
        assert buffered.get_mask_sizes(1) == plain.get_mask_sizes(1)
        if buffered.get_seq_length() <= 7:  # within capacity every write is in place
            storage = storage or buffered.key_buffer.data_ptr()
            assert buffered.key_buffer.data_ptr() == storage
    keep = torch.tensor([2, 0])
    buffered.batch_select_indices(keep)
    plain.batch_select_indices(keep)
    buffered.crop(-2)
    plain.crop(-2)
    assert torch.equal(buffered.keys, plain.keys) and torch.equal(buffered.values, plain.values)
    step = torch.randn(2, 2, 1, 5)
    assert torch.equal(buffered.update(step, step)[0], plain.update(step, step)[0])


def _greedy_generations(tiny_tokenizer, buffered: bool, eos_id: int | None = None):
    model = tiny_causal_lm(hidden_size=32, num_layers=2, seed=5)
    policy = HFPolicy(model, tiny_tokenizer, GenerationConfig(max_new_tokens=6, context="full", greedy=True))
    if not buffered:
        policy._buffered_layers = 0  # transformers' default, concatenating cache
    if eos_id is not None:
        policy.eos_id = eos_id
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=4) for _ in range(6)]
    return policy, run_episodes(envs, policy, grouped_specs(range(6), 1))


def test_buffered_cache_generates_what_the_default_cache_generates(tiny_tokenizer):
    policy, buffered = _greedy_generations(tiny_tokenizer, True)
    assert policy._buffered_layers == 2
    _, plain = _greedy_generations(tiny_tokenizer, False)
    for a, b in zip(buffered, plain):
        assert [t.token_ids for t in a.turns] == [t.token_ids for t in b.turns]
        for x, y in zip(a.turns, b.turns):
            assert torch.allclose(torch.tensor(x.logprobs), torch.tensor(y.logprobs), atol=1e-5)


def test_rows_that_finish_early_change_nothing_for_the_others(tiny_tokenizer):
    """Greedy generation of a batch equals each context generated alone, while rows finish at
    different steps (some stay in the batch fed padding, then the batch is compacted)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)  # untied, large weights: greedy text that does not repeat one token
    config = LlamaConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False, initializer_range=0.3)
    policy = HFPolicy(LlamaForCausalLM(config), tiny_tokenizer, GenerationConfig(max_new_tokens=8, greedy=True))
    rng = torch.Generator().manual_seed(0)
    contexts = [torch.randint(4, 100, (3 + 4 * i,), generator=rng).tolist() for i in range(6)]
    first = policy.generate(contexts)
    # an "EOS" that the rows reach at the most different steps (or never)
    policy.eos_id = max({t for tokens, _, _ in first for t in tokens},
                        key=lambda t: len({tokens.index(t) if t in tokens else -1 for tokens, _, _ in first}))
    together = policy.generate(contexts)
    alone = [policy.generate([context])[0] for context in contexts]
    finished_at = sorted(len(tokens) for tokens, _, done in together if done)
    assert len(set(finished_at)) >= 2 and len(finished_at) < len(contexts)
    for (tokens, logps, done), (tokens1, logps1, done1) in zip(together, alone):
        assert tokens == tokens1 and done == done1
        assert torch.allclose(torch.tensor(logps), torch.tensor(logps1), atol=1e-4)


def test_decode_steps_write_into_one_buffer(tiny_tokenizer):
    model = tiny_causal_lm(hidden_size=32, num_layers=1)
    policy = HFPolicy(model, tiny_tokenizer, GenerationConfig(max_new_tokens=5, greedy=True))
    policy.eos_id = -1  # no row finishes: no compaction, the batch keeps its buffer
    storages = []
    forward = model.forward

    def watching(*args, **kwargs):
        out = forward(*args, **kwargs)
        storages.append(_cache_of(out).layers[0].key_buffer.data_ptr())
        return out

    model.forward = watching
    policy.generate([[5, 6, 7], [8, 9]])
    assert len(storages) == 5 and len(set(storages)) == 1


def test_models_with_other_cache_layers_take_the_plain_path(tiny_tokenizer):
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=4, num_key_value_heads=4, sliding_window=16)
    torch.manual_seed(0)
    policy = HFPolicy(MistralForCausalLM(config), tiny_tokenizer, GenerationConfig(max_new_tokens=4, greedy=True))
    assert policy._buffered_layers == 0
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=3) for _ in range(2)]
    batch = run_episodes(envs, policy, grouped_specs([0, 1], 1))
    segments = [s for t in batch for s in t.segments()]
    packed = collate_segments(segments, pad_id=tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        rescored = token_logprobs(policy.model, packed.input_ids, packed.attention_mask)
    assert torch.allclose(rescored * packed.loss_mask, packed.old_logprobs, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_rollout_is_token_exact_with_kv_reuse(tiny_tokenizer):
    """On a GPU: KV reuse and the preallocated cache generate what the plain path generates, and the
    stored log-probs match a fresh scoring of the stored tokens."""
    rollouts = []
    for reuse_kv in (True, False):
        model = tiny_causal_lm(hidden_size=64, num_layers=2, seed=5).to("cuda")
        config = GenerationConfig(max_new_tokens=6, context="full", greedy=True, reuse_kv=reuse_kv)
        policy = HFPolicy(model, tiny_tokenizer, config)
        envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=4) for _ in range(6)]
        rollouts.append((model, run_episodes(envs, policy, grouped_specs(range(6), 1))))
    (model, with_reuse), (_, without) = rollouts
    assert policy.device.type == "cuda"
    for a, b in zip(with_reuse, without):
        assert [t.token_ids for t in a.turns] == [t.token_ids for t in b.turns]
    segments = [s for t in with_reuse for s in t.segments()]
    packed = collate_segments(segments, pad_id=tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        rescored = token_logprobs(model, packed.input_ids.cuda(), packed.attention_mask.cuda()).cpu()
    assert torch.allclose(rescored * packed.loss_mask, packed.old_logprobs, atol=1e-3)
