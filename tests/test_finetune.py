"""Fine-tuning (analysis.finetune) and the comparison of two encoding models (stats)."""

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from analysis import finetune as ft
from analysis import stats
from analysis.data import DataError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


# ----------------------------------------------------------------------------- data
SIQA_ROWS = [
    {"context": "Sam dropped a glass.", "question": "How would Sam feel?",
     "answerA": "embarrassed", "answerB": "hungry", "answerC": "tall"},
    {"context": "Kai gave Lee a gift.", "question": "What will Lee want to do?",
     "answerA": "say thanks", "answerB": "fly", "answerC": "sleep"},
]
PIQA_ROWS = [
    {"goal": "Dry wet shoes", "sol1": "Stuff them with newspaper.", "sol2": "Fill them with water."},
    {"goal": "Cut bread", "sol1": "Use a spoon.", "sol2": "Use a serrated knife."},
]


def _write(folder, stem, rows, labels):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / f"{stem}-labels.lst").write_text("".join(f"{v}\n" for v in labels))


def test_siqa_official_zip_and_folder_layouts(tmp_path):
    src = tmp_path / "socialiqa-train-dev"
    _write(src, "train", SIQA_ROWS, [1, 1])
    _write(src, "dev", SIQA_ROWS[::-1], [1, 1])
    zpath = tmp_path / "socialiqa-train-dev.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in src.iterdir():
            zf.write(p, f"socialiqa-train-dev/{p.name}")
            zf.writestr(f"__MACOSX/socialiqa-train-dev/._{p.name}", b"\x00\x05junk")
    for where in (zpath, src, tmp_path):
        items = ft.load_siqa(where, "train")
        assert [it.label for it in items] == [0, 0]
        assert items[0].question == "Sam dropped a glass. How would Sam feel?"
        assert items[0].options == ("embarrassed", "hungry", "tall")
        assert ft.load_siqa(where, "dev")[0].options[0] == "say thanks"


def test_piqa_layout_and_seeded_valid_split(tmp_path):
    rows = [dict(PIQA_ROWS[i % 2], goal=f"goal {i}") for i in range(40)]
    _write(tmp_path, "valid", rows, [i % 2 for i in range(40)])
    items = ft.load_piqa(tmp_path, "valid")
    assert items[1].label == 1 and items[1].options[1] == "Use a serrated knife."
    tr, held, info = ft.task_data("piqa", "official", tmp_path, seed=3)
    assert len(tr) + len(held) == 40 and abs(len(held) - 40 * 500 / 1838) < 1
    assert not {it.question for it in tr} & {it.question for it in held}
    assert "valid.jsonl" in info["split"] and "not available" in info["split"]
    tr2, held2, _ = ft.task_data("piqa", "official", tmp_path, seed=3)
    assert [it.question for it in held2] == [it.question for it in held]
    # an official training file is used when present
    _write(tmp_path, "train", rows[:6], [0] * 6)
    tr3, held3, info3 = ft.task_data("piqa", "official", tmp_path)
    assert len(tr3) == 6 and len(held3) == 40 and info3["split"] == "official train / valid"


@pytest.mark.parametrize("bad, message", [
    ("label", "labels.lst, line 2: label '4'"),
    ("count", "1 labels for 2 items"),
    ("json", "line 2: not valid JSON"),
    ("option", "line 1: Social IQa record has no usable field 'answerC'"),
])
def test_bad_records_name_file_and_line(tmp_path, bad, message):
    rows = [dict(r) for r in SIQA_ROWS]
    labels = [1, 2]
    if bad == "label":
        labels = [1, 4]
    if bad == "count":
        labels = [1]
    if bad == "option":
        del rows[0]["answerC"]
    _write(tmp_path, "dev", rows, labels)
    if bad == "json":
        text = (tmp_path / "dev.jsonl").read_text().splitlines()
        (tmp_path / "dev.jsonl").write_text(text[0] + "\n{broken\n")
    with pytest.raises(DataError) as err:
        ft.load_siqa(tmp_path, "dev")
    assert message in str(err.value)
    assert "dev" in str(err.value)


def test_missing_files_and_datasets_message(tmp_path):
    with pytest.raises(DataError, match="valid.jsonl"):
        ft.load_piqa(tmp_path, "valid")
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install datasets"):
            ft.load_hf("piqa", "train")


@pytest.mark.skipif(not (SHARED / "socialiqa").exists(), reason="shared data absent")
def test_real_official_files():
    dev = ft.load_siqa(SHARED / "socialiqa" / "socialiqa-train-dev.zip", "dev")
    assert len(dev) == 1954 and {it.label for it in dev} == {0, 1, 2}
    tr, held, info = ft.task_data("piqa", "official", SHARED / "piqa", seed=0)
    assert (len(tr), len(held)) == ft.PIQA_VALID_SPLIT


@pytest.mark.skipif(not (ft.demo_dir() / "README.md").exists(), reason="demo set not written")
def test_demo_set_loads():
    for task, n_opt in ft.TASKS.items():
        items = ft.load_demo(task)
        assert len(items) >= 150 and all(len(it.options) == n_opt for it in items)


# -------------------------------------------------------------------------- scoring
@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from analysis.features import resolve_model

    spec = resolve_model("default")
    return AutoTokenizer.from_pretrained(spec.source, **spec.pretrained_kwargs())


def tiny_llama(tokenizer, seed=0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                      tie_word_embeddings=True)
    return LlamaForCausalLM(cfg).eval()


def test_option_score_is_sum_of_shifted_token_logprobs(tokenizer):
    import torch

    model = tiny_llama(tokenizer)
    items = [ft.MCItem("Alex spilled coffee on the report. How does Alex feel?",
                       ("embarrassed and sorry", "calm", "very proud of it"), 0),
             ft.MCItem("Open a jar", ("Twist the lid.", "Sing to it."), 1)]
    for item in items:
        enc = ft.encode_item(tokenizer, item)
        batch = ft.collate([enc], tokenizer.pad_token_id or 0)
        with torch.no_grad():
            scores = ft.option_scores(model, batch)[0]
        for k, (ids, start) in enumerate(enc["rows"]):
            assert ids[0] == tokenizer.bos_token_id
            # the option's tokens are exactly those of " " + option
            assert ids[start:] == tokenizer(" " + item.options[k],
                                            add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([ids])).logits[0].double()
            logp = torch.log_softmax(logits, -1)
            expected = sum(float(logp[t - 1, ids[t]]) for t in range(start, len(ids)))
            assert abs(float(scores[k]) - expected) < 1e-4


def test_scores_do_not_depend_on_batch_padding(tokenizer):
    import torch

    model = tiny_llama(tokenizer, seed=1)
    short = ft.MCItem("Cut bread", ("Use a knife.", "Use a spoon."), 0)
    long = ft.MCItem("Keep soup warm for a long time while guests arrive late at night",
                     ("Put it in a thermos with a tight lid.", "Leave it open."), 0)
    enc = [ft.encode_item(tokenizer, it) for it in (short, long)]
    with torch.no_grad():
        alone = ft.option_scores(model, ft.collate(enc[:1], 0))
        together = ft.option_scores(model, ft.collate(enc, 0))
    assert torch.allclose(alone[0], together[0], atol=1e-4)


def test_shuffle_labels_permutes_answers_across_items_with_a_seed():
    items = _planted_items(60, 0)
    a, b, c = (ft.shuffle_labels(items, seed=s) for s in (0, 0, 1))
    assert a == b and a != c
    assert [(x.question, x.options) for x in a] == [(x.question, x.options) for x in items]
    assert sorted(x.label for x in a) == sorted(x.label for x in items)
    agree = np.mean([x.label == y.label for x, y in zip(a, items)])
    assert agree < 0.6  # about a third by chance with three options
    assert a[0].source.endswith("(answer shuffled)")
    with pytest.raises(ValueError, match="options"):
        ft.shuffle_labels([items[0], ft.MCItem("q", ("a", "b"), 0)])


class _BigramLM:
    """A causal LM whose next-token log-probabilities depend on the current token only."""

    def __init__(self, logp):
        import torch

        self.logp = torch.as_tensor(logp, dtype=torch.float32)
        self.embed = torch.nn.Embedding(len(logp), 1)
        self.training = False

    def get_input_embeddings(self):
        return self.embed

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def forward(self, input_ids, attention_mask=None, position_ids=None, **kwargs):
        from types import SimpleNamespace

        return SimpleNamespace(logits=self.logp[input_ids])

    __call__ = forward


def test_summed_score_picks_the_short_wrong_option_and_per_token_the_right_one():
    """PIQA-like item: a 1-token wrong option and a 4-token right one.

    Tokens: 0 BOS, 1 the question, 2 the short option, 3 4 4 4 the long one.
    log P(2|1) = log 0.2 = -1.61; log P(3|1) + log P(4|3) + 2 log P(4|4) =
    log 0.3 + 3 log 0.6 = -2.74. Summed, the short option wins (wrong); per token
    (-1.61 against -0.69) the long one (right); the shorter-option baseline is wrong.
    """
    import torch

    p = np.full((5, 5), np.nan)
    p[1, 2], p[1, 3], p[3, 4], p[4, 4] = 0.2, 0.3, 0.6, 0.6
    for row in p:  # the rest of each row shares what is left: rows sum to 1
        row[np.isnan(row)] = (1 - np.nansum(row)) / np.isnan(row).sum()
    model = _BigramLM(np.log(p))
    item = {"rows": [([0, 1, 2], 2), ([0, 1, 3, 4, 4, 4], 2)], "label": 1}
    with torch.no_grad():
        total = ft.option_scores(model, ft.collate([item]))[0]
        mean = ft.option_scores(model, ft.collate([item]), per_token=True)[0]
    assert torch.allclose(total, torch.log(torch.tensor([0.2, 0.3 * 0.6 ** 3])), atol=1e-5)
    assert torch.allclose(mean, total / torch.tensor([1.0, 4.0]))
    assert ft.choice_correctness(model, [item]) == {"sum": [0], "per_token": [1]}
    assert ft.accuracy(model, [item]) == 0 and ft.accuracy(model, [item], rule="per_token") == 1
    assert ft.shorter_option_correct([item]) == [0]
    with pytest.raises(ValueError, match="rule='bytes'"):
        ft.accuracy(model, [item], rule="bytes")


def test_shorter_option_baseline_breaks_ties_with_a_seed():
    tie = {"rows": [([0, 1, 2], 2), ([0, 1, 3], 2), ([0, 1, 3, 4], 2)], "label": 0}
    picks = [ft.shorter_option_correct([tie] * 200, seed=s) for s in (0, 0, 1)]
    assert picks[0] == picks[1] and picks[0] != picks[2]
    assert 0.4 < np.mean(picks[0]) < 0.6  # the right option is one of two shortest


def test_accuracy_interval_reports_per_token_and_shorter_baseline():
    res = ft.FinetuneResult("piqa", "x", [{"epoch": 0, "accuracy": 0.5}], 1, 0.5,
                            correct_base=[0, 1, 0, 1], correct_final=[1, 1, 0, 1],
                            correct_base_per_token=[1, 1, 1, 0],
                            correct_final_per_token=[1, 1, 1, 1], correct_shorter=[0, 0, 1, 0])
    a = res.accuracy_interval(n_boot=200)
    assert a["fine_tuned"] == 0.75 and a["per_token"]["base"] == 0.75
    assert a["per_token"]["gain"] == 0.25 and a["shorter"]["accuracy"] == 0.25
    lo, hi = a["shorter"]["ci"]
    assert lo < 0.25 < hi
    table = ft.accuracy_table({"piqa": a}, {"piqa": res})
    assert table.loc["PIQA", "shorter option"].startswith("0.250 [")
    assert table.loc["PIQA", "fine-tuned (per token)"].startswith("1.000 [")
    old = ft.FinetuneResult("piqa", "x", [], 1, 0.5, correct_base=[0, 1],
                            correct_final=[1, 1]).accuracy_interval(n_boot=100)
    assert old["per_token"] is None and old["shorter"] is None
    assert ft.accuracy_table({"piqa": old}, {"piqa": res}).loc["PIQA", "gain, points (per token)"] == "n/a"
    assert table.loc["PIQA", "gain, points (per token)"].startswith("+25.0 [")


def test_truncation_keeps_bos_and_the_option(tokenizer):
    item = ft.MCItem("word " * 100, ("the answer", "no"), 0)
    enc = ft.encode_item(tokenizer, item, max_length=20)
    for ids, start in enc["rows"]:
        assert len(ids) <= 20 and ids[0] == tokenizer.bos_token_id and start >= 2
    # an option longer than max_length cannot be scored: the item is left out, loudly
    long_option = ft.MCItem("Q", ("word " * 40, "no"), 0, "file.jsonl:7")
    with pytest.warns(RuntimeWarning, match=r"1 of 2 training items left out.*file.jsonl:7"):
        kept = ft.encode_fitting(tokenizer, [item, long_option], 20, "training")
    assert len(kept) == 1


def _planted_items(n, seed):
    """Items whose correct option always contains 'blue': learnable in a few steps."""
    rng = np.random.default_rng(seed)
    nouns = ["cup", "door", "road", "lamp", "coat", "shoe", "box", "car", "tree", "pen"]
    items = []
    for i in range(n):
        label = int(rng.integers(3))
        opts = [f"the {rng.choice(nouns)} is red" for _ in range(3)]
        opts[label] = f"the {rng.choice(nouns)} is blue"
        items.append(ft.MCItem(f"Item {i}: which one?", tuple(opts), label))
    return items


def test_training_learns_a_planted_rule_saves_and_reloads(tokenizer, tmp_path, monkeypatch):
    import torch
    from transformers import AutoModelForCausalLM

    model_dir = tmp_path / "tiny"
    tiny_llama(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    train, held = _planted_items(48, 0), _planted_items(30, 1)
    kw = dict(model=str(model_dir), epochs=3, lr=3e-3, batch_size=8, seed=0, device="cpu",
              cache_dir=tmp_path / "cache", progress=False)
    res = ft.finetune("siqa", train, held, **kw)
    accs = [a["accuracy"] for a in res.accuracy]
    assert len(res.correct_final_per_token) == len(res.correct_shorter) == len(held)
    assert res.accuracy[-1]["accuracy_per_token"] == np.mean(res.correct_final_per_token)
    assert [a["epoch"] for a in res.accuracy] == [0, 1, 2, 3]
    assert accs[0] < 0.6 and res.final_accuracy >= 0.9, accs
    assert res.best_epoch == 3 and res.final_accuracy == accs[-1]  # the last model is kept
    # the kept checkpoint is a plain HF model with the measured accuracy
    reloaded = AutoModelForCausalLM.from_pretrained(res.model_dir)
    enc = [ft.encode_item(tokenizer, it) for it in held]
    assert abs(ft.accuracy(reloaded, enc, pad_id=0) - res.final_accuracy) < 1e-9
    assert not (Path(res.model_dir).parent / "run").exists()
    # a finished run is not redone
    calls = []
    monkeypatch.setattr(ft.training, "_make_trainer_class", lambda: calls.append(1))
    again = ft.finetune("siqa", train, held, **kw)
    assert again.model_dir == res.model_dir and not calls
    monkeypatch.undo()
    # the shuffled-answer control: same items, recipe and budget, its own cache key, and
    # the planted rule is not learnt from permuted answers
    shuffled = ft.finetune("siqa", train, held, label_shuffle=True, **kw)
    assert shuffled.model_dir != res.model_dir and "siqa-shuffled-" in shuffled.model_dir
    assert shuffled.params["label_shuffle"] and not res.params["label_shuffle"]
    assert shuffled.final_accuracy < 0.6, shuffled.accuracy
    later = ft.finetuned_for_later({"siqa": res, ft.SHUFFLED_CONTROL: shuffled}, "tiny", 1)
    assert later.models[ft.SHUFFLED_CONTROL]["control"] == "shuffled answers"
    assert later.models[ft.SHUFFLED_CONTROL]["task"] == "siqa"
    assert later.models["siqa"]["control"] is None
    best = ft.finetune("siqa", train, held, keep="best", **kw)  # its own cache key
    b_accs = [a["accuracy"] for a in best.accuracy]
    assert best.model_dir != res.model_dir
    assert best.best_epoch == max(range(1, 4), key=lambda e: (b_accs[e], -e))
    with pytest.raises(ValueError, match="keep='first'"):
        ft.finetune("siqa", train, held, keep="first", **kw)
    # features load the checkpoint directly
    from analysis.features import extract_features

    feats = extract_features(["the", "cup", "is", "blue"], model=res.model_dir, layers=[1],
                             cache_dir=False, progress=False)
    assert feats.hidden.shape == (1, 4, 32)
    with torch.no_grad():
        lm = ft.lm_loss(reloaded, tokenizer, "The cup is blue. " * 40, max_length=32)
    assert lm["n_tokens"] == len(tokenizer("The cup is blue. " * 40,
                                           add_special_tokens=False)["input_ids"])


def test_interrupted_run_resumes_from_last_checkpoint(tokenizer, tmp_path, monkeypatch):
    model_dir = tmp_path / "tiny"
    tiny_llama(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    train, held = _planted_items(16, 0), _planted_items(6, 1)
    kw = dict(model=str(model_dir), epochs=2, lr=1e-3, batch_size=8, seed=0, device="cpu",
              cache_dir=tmp_path / "cache", progress=False)
    from transformers import TrainerCallback

    class Stop(Exception):
        pass

    class Interrupt(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            raise Stop

    real = ft.training._make_trainer_class

    def interrupted():
        cls = real()

        class Broken(cls):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                self.add_callback(Interrupt())
        return Broken

    monkeypatch.setattr(ft.training, "_make_trainer_class", interrupted)
    with pytest.raises(Stop):
        ft.finetune("piqa", train, held, **kw)
    runs = list((tmp_path / "cache").glob("piqa-*/run/checkpoint-*"))
    assert len(runs) == 1 and runs[0].name == "checkpoint-2"
    monkeypatch.setattr(ft.training, "_make_trainer_class", real)
    res = ft.finetune("piqa", train, held, **kw)
    assert [a["epoch"] for a in res.accuracy] == [0, 1, 2]


@pytest.mark.slow
@pytest.mark.skipif(not (ft.demo_dir() / "README.md").exists(), reason="demo set not written")
def test_short_training_on_the_demo_set_beats_chance(tmp_path):
    """Default model, LoRA, 1 epoch on 16 demo items: held-out accuracy above chance.

    SmolLM2-135M-Instruct is already above chance on these items before training
    (measured: 0.633 on these 60 held-out PIQA items); a run this short cannot be
    expected to raise it, so the test checks that the fine-tuned, merged and saved model
    is above chance (binomial test) and prints the change. Measured with full
    fine-tuning of 24 items at lr 1e-5: 0.633 before and after.
    """
    from scipy.stats import binomtest
    from transformers import AutoModelForCausalLM

    train, held, _ = ft.task_data("piqa", "demo", n_train=16, n_eval=60, seed=0)
    res = ft.finetune("piqa", train, held, epochs=1, lr=1e-4, batch_size=8, seed=0,
                      lora=True, lora_rank=4, max_length=96, device="cpu",
                      cache_dir=tmp_path, progress=False)
    acc0, acc1 = res.accuracy[0]["accuracy"], res.final_accuracy
    saved = Path(res.model_dir)
    assert (saved / "config.json").is_file() and not (saved / "adapter_config.json").exists()
    assert "quantization_config" not in json.loads((saved / "config.json").read_text())
    assert not any("lora" in k for k in AutoModelForCausalLM.from_pretrained(saved)
                   .state_dict())
    print(f"demo PIQA held-out accuracy: before {acc0:.3f}, after {acc1:.3f}")
    assert binomtest(round(acc1 * len(held)), len(held), 0.5, alternative="greater").pvalue < 0.05


# ----------------------------------------------------------------- permutation test
def _encoding_like(n=400, cols=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((n, cols))
    base = 0.5 * y + rng.standard_normal((n, cols))
    return rng, y, base


def test_permutation_test_matches_a_direct_implementation():
    rng, y, a = _encoding_like(n=60, cols=4)
    b = 0.5 * y + rng.standard_normal(y.shape)
    res = stats.permutation_r_difference(y, a, b, n_permutations=200, seed=5, perm_block=64,
                                         col_block=3, n_threads=2, scheme="blocks",
                                         block_length=6)
    # direct: the same permutations (drawn in other chunks), one pearson per permutation
    perms = np.concatenate(list(stats.dependence_preserving_permutations(
        60, "blocks", None, 200, seed=5, block_length=6, chunk=7)))
    for j in range(4):
        obs = np.corrcoef(y[:, j], b[:, j])[0, 1] - np.corrcoef(y[:, j], a[:, j])[0, 1]
        null = np.array([np.corrcoef(y[p, j], b[:, j])[0, 1] - np.corrcoef(y[p, j], a[:, j])[0, 1]
                         for p in perms])
        assert abs(res["delta"][j] - obs) < 1e-12
        assert res["p_greater"][j] == pytest.approx((np.sum(null >= obs - 1e-5) + 1) / 201)
        assert res["p_less"][j] == pytest.approx((np.sum(null <= obs + 1e-5) + 1) / 201)


def test_permutation_test_is_calibrated_and_finds_planted_gains():
    rng, y, base = _encoding_like(n=300, cols=200, seed=1)
    # a model compared with itself: every p is 1, nothing differs
    same = stats.permutation_r_difference(y, base, base, n_permutations=100, seed=0)
    assert np.all(same["p_greater"] == 1) and np.all(same["p_less"] == 1)
    assert np.all(stats.better_worse_same(same["p_greater"], same["p_less"]) == 0)
    # two predictions that differ by noise only: at most the nominal share is "better"
    noisy = base + 0.3 * rng.standard_normal(base.shape)
    other = base + 0.3 * rng.standard_normal(base.shape)
    null = stats.permutation_r_difference(y, other, noisy, n_permutations=300, seed=1)
    cls = stats.better_worse_same(null["p_greater"], null["p_less"])
    assert (cls == 1).mean() <= 0.05 and (cls == -1).mean() <= 0.05
    print("share p < 0.05 before correction:", (null["p_greater"] < 0.05).mean())
    assert (null["p_greater"] < 0.05).mean() <= 0.1
    # a planted improvement on 40 columns and a loss on 20 are found there
    ft_pred = noisy.copy()
    ft_pred[:, :40] += 0.5 * y[:, :40]
    ft_pred[:, 40:60] = rng.standard_normal((300, 20))
    res = stats.permutation_r_difference(y, base, ft_pred, n_permutations=2000, seed=2)
    cls = stats.better_worse_same(res["p_greater"], res["p_less"])
    assert (cls[:40] == 1).mean() >= 0.9 and (cls[40:60] == -1).mean() >= 0.9
    assert (cls[60:] != 0).mean() <= 0.05


def test_permutation_test_keeps_trailing_shape_and_nan_columns():
    rng = np.random.default_rng(0)
    y = rng.standard_normal((50, 3, 4))
    y[:, 1, 2] = 1.0  # constant column
    a, b = y + rng.standard_normal(y.shape), y + rng.standard_normal(y.shape)
    res = stats.permutation_r_difference(y, a, b, n_permutations=20)
    assert res["p_greater"].shape == (3, 4) and np.isnan(res["p_greater"][1, 2])
    assert np.isfinite(res["p_greater"][0]).all()
    with pytest.raises(ValueError, match="same shape"):
        stats.permutation_r_difference(y, a[:10], b)


def test_category_ttest_detects_a_planted_category_effect():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((400, 5))
    cat = np.zeros(400, bool)
    cat[:60] = True
    values[cat, 3] += 1.0
    values[cat, 1] -= 1.0  # two-sided: a loss of the category is found too
    res = stats.category_ttest(values, cat)
    assert res["p"][3] < 1e-5 and res["t"][3] > 0
    assert res["p"][1] < 1e-5 and res["t"][1] < 0
    assert np.all(res["p"][[0, 2, 4]] > 0.001)
    assert res["mean_in"][3] - res["mean_out"][3] == pytest.approx(
        values[cat, 3].mean() - values[~cat, 3].mean())


# ------------------------------------------------------------ one dtype in the re-test
@pytest.fixture(scope="module")
def small_study():
    from analysis.data import WordDataset

    rng = np.random.default_rng(0)
    words = ("The cup is blue and the door is red . " * 12).split()
    n = len(words)
    return WordDataset(words=words, sentence=np.arange(n) // 10,
                       responses=rng.standard_normal((n, 4, 3)).astype(np.float32),
                       times=np.arange(3) * 25.0, ch_names=[f"c{i}" for i in range(4)])


@pytest.fixture(scope="module")
def tiny_model_dir(tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-llama")
    tiny_llama(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_retest_features_share_one_dtype_and_a_mismatch_is_refused(small_study, tiny_model_dir):
    """On a GPU the base model's default features are bfloat16 and a fine-tuned float32
    checkpoint's are float32: the re-test computes both in float32 and refuses a mix."""
    from analysis.features import extract_features
    from analysis.lm import load_model

    ds = small_study
    base = ft.retest_features(ds, str(tiny_model_dir), 1, device="cpu", cache_dir=False)
    tuned = ft.retest_features(ds, load_model(str(tiny_model_dir), device="cpu", dtype="float32"),
                               1, cache_dir=False)
    assert base.params["dtype"] == tuned.params["dtype"] == ft.RETEST_DTYPE == "float32"
    assert base.hidden.dtype == tuned.hidden.dtype == np.float32
    with pytest.raises(ValueError, match="loaded in bfloat16.*dtype='float32'"):
        ft.retest_features(ds, load_model(str(tiny_model_dir), device="cpu", dtype="bfloat16"), 1)
    # what a GPU run used to compare: a bfloat16 base against float32 fine-tuned features
    half = extract_features(ds, model=str(tiny_model_dir), layers=[1], surprisal=False,
                            device="cpu", dtype="bfloat16", cache_dir=False, progress=False)
    fit_kw = dict(n_folds=3, n_inner=2)
    with pytest.raises(ValueError, match="computed in bfloat16 and the other model's in float32"):
        ft.brain_retest(ds, half, tuned, layer=1, n_permutations=5, **fit_kw)
    base_fit = ft.fit_base(half, ds, 1, **fit_kw)
    assert base_fit.params["features_dtype"] == "bfloat16"
    with pytest.raises(ValueError, match="computed in bfloat16"):
        ft.brain_retest(ds, base_fit, tuned, layer=1, n_permutations=5, **fit_kw)
    with pytest.raises(ValueError, match="without layer="):
        ft.brain_retest(ds, base, tuned, n_permutations=5, **fit_kw)
    out = ft.brain_retest(ds, ft.fit_base(base, ds, 1, **fit_kw), tuned, layer=1,
                          n_permutations=5, **fit_kw)
    # the same model in the same dtype: identical predictions, nothing better or worse
    assert np.array_equal(out["base"].predictions, out["ft"].predictions)
    assert (out["classes"] == 0).all()


# ------------------------------------------------------------------------- verdicts
def _summary(better, worse):
    return {"percent_better": better, "percent_worse": worse}


def test_retest_counts_only_when_the_accuracy_gain_excludes_zero():
    """A brain re-test that looks 'better' is uninformative when the model did not learn."""
    flat = {"gain": 0.01, "gain_ci": (-0.02, 0.04)}
    v = ft.retest_verdict("Social IQa", flat, _summary(12.0, 0.0), null=_summary(0.0, 0.0),
                          vs_shuffled=_summary(5.0, 0.0))
    assert v.answer == "uninformative at this budget" and not v.learnt and not v.informative
    assert "does not exclude 0" in v.reason and "+1.0 points" in v.reason
    learnt = {"gain": 0.08, "gain_ci": (0.03, 0.13)}
    v = ft.retest_verdict("Social IQa", learnt, _summary(12.0, 0.0), null=_summary(0.0, 0.0),
                          vs_shuffled=_summary(5.0, 0.0))
    assert v.answer == "closer to the brain" and v.learnt and v.informative


def test_verdict_compares_with_the_null_and_the_shuffled_answer_controls():
    learnt = {"gain": 0.08, "gain_ci": (0.03, 0.13)}
    null = _summary(4.0, 1.0)

    def answer(vs_base, vs_shuffled):
        return ft.retest_verdict("m", learnt, vs_base, null=null, vs_shuffled=vs_shuffled).answer

    # better than the base, but no more often than the null control: no different
    assert answer(_summary(3.0, 0.0), _summary(2.0, 0.0)) == "no different from the controls"
    # better than base beyond the null control, but not better than the shuffled control
    assert answer(_summary(10.0, 0.0), _summary(0.0, 0.0)) == "no different from the controls"
    assert answer(_summary(10.0, 0.0), _summary(1.0, 0.0)) == "closer to the brain"
    assert answer(_summary(0.0, 9.0), _summary(0.0, 3.0)) == "further from the brain"
    assert answer(_summary(10.0, 9.0), _summary(2.0, 3.0)) == "mixed"
    # without a shuffled-answer control the null control alone decides, and it says so
    v = ft.retest_verdict("m", learnt, _summary(10.0, 0.0), null=null)
    assert v.answer == "closer to the brain" and "no shuffled-answer control" in v.reason
    ctl = ft.retest_verdict("c", learnt, _summary(10.0, 0.0), null=null, control=True)
    assert ctl.answer == "control" and not ctl.informative
    table = ft.verdict_table({"m": v, "c": ctl})
    assert table.loc["m", "verdict"] == "closer to the brain"
    assert table.loc["m", "% better / worse than shuffled control"] == "n/a"
    assert table.loc["c", "gain (points)"] == "+8.0 [+3.0, +13.0]"
    assert set(table["verdict"]) <= set(ft.VERDICTS)


def test_retest_arrays_follow_the_responses_target_axes(small_study):
    """Every per-target array of a re-test is (n_channels, n_windows) like the responses
    (4 channels, 3 windows here); the test's r of the base model is the encoding r."""
    ds = small_study
    rng = np.random.default_rng(4)
    out = ft.brain_retest(ds, rng.standard_normal((ds.n_words, 6)),
                          rng.standard_normal((ds.n_words, 6)), n_permutations=5, n_folds=3,
                          n_inner=2)
    target = ds.responses.shape[1:]
    assert out["base"].r.shape == out["ft"].r.shape == out["classes"].shape == target
    for key in ("delta", "r_a", "r_b", "p_greater", "p_less"):
        assert out["test"][key].shape == target, key
    np.testing.assert_allclose(out["test"]["r_a"], out["base"].r, atol=1e-5)
    np.testing.assert_allclose(out["test"]["r_b"], out["ft"].r, atol=1e-5)
    shares = out["shares"]
    assert shares["better"].shape == (3,)
    np.testing.assert_allclose(shares["better"] + shares["worse"] + shares["same"], 100.0)


def test_retest_verdicts_retest_each_model_against_the_shuffled_control(small_study):
    ds = small_study
    rng = np.random.default_rng(3)
    feats = {run: rng.standard_normal((ds.n_words, 6)) for run in ("siqa", ft.SHUFFLED_CONTROL)}
    fit_kw = dict(n_folds=3, n_inner=2)
    base = rng.standard_normal((ds.n_words, 6))
    retests = {run: ft.brain_retest(ds, base, f, n_permutations=20, **fit_kw)
               for run, f in feats.items()}
    acc = {"siqa": {"gain": 0.1, "gain_ci": (0.05, 0.15)},
           ft.SHUFFLED_CONTROL: {"gain": 0.0, "gain_ci": (-0.05, 0.05)}}
    out = ft.retest_verdicts(ds, retests, feats, acc, {"null control": _summary(0.0, 0.0)},
                             n_permutations=20, **fit_kw)
    assert out[ft.SHUFFLED_CONTROL].answer == "control"
    assert out[ft.SHUFFLED_CONTROL].vs_shuffled_better is None
    v = out["siqa"]
    assert v.vs_shuffled_better is not None and v.model == "Social IQa"
    # random features, no signal: neither model differs from the other at q < 0.05
    assert v.answer == "no different from the controls", v


def test_chapter_tables_and_texts_escape_and_fill_every_run():
    """The fine-tuning chapter's tables and glue texts (task_table, example_markdown,
    training_texts, retest_table, power_note)."""
    from types import SimpleNamespace

    item = ft.MCItem("What does <b>Jo</b> feel?", ("glad", "*sad*"), 1, "demo:1")
    info = {"source": "demo", "split": "train", "n_train": 400, "n_eval": 300, "chance": 1 / 3}
    data = {"siqa": ([item], [item], info)}
    table = ft.task_table(data)
    assert table.loc["Social IQa", "train items"] == 400
    assert table.loc["Social IQa", "chance"] == "0.33"
    md = ft.example_markdown("siqa", item)
    assert "<b>" not in md and "**\\*sad\\***" in md
    runs = {"siqa": SimpleNamespace(reused=False)}
    acc = {"siqa": {"base": 0.4, "fine_tuned": 0.45, "gain": 0.05, "gain_ci": (-0.01, 0.11)}}
    texts = ft.training_texts(data, runs, acc, 3e-4, 1, 8, 200, True, 16)
    assert texts["gain_siqa"] == "+5.0 points (-1.0 to +11.0)"
    assert texts["acc_piqa"] == texts["gain_siqa_shuffled"] == "n/a (not run)"
    assert texts["n_train_txt"] == "400 (Social IQa)" and "rank 16" in texts["mode"]
    summary = {"percent_better": 1.25, "percent_worse": 0.0,
               "percent_better_ci": [0.5, 2.0], "percent_worse_ci": None,
               "mean_r_base": 0.1, "mean_r_finetuned": 0.11,
               "category_windows_ms": [300.0, 325.0], "category_worse_windows_ms": []}
    rt = ft.retest_table({"m": summary})
    assert rt.loc["m", "better (of all tests)"] == "1.2 % (95 % CI 0.5 to 2.0)"
    assert rt.loc["m", "worse (of all tests)"] == "0.0 %"
    assert rt.loc["m", "category better (q < 0.05)"] == "300, 325"
    assert rt.loc["m", "category worse (q < 0.05)"] == "none"
    note = ft.power_note({"siqa": {"r": {"sentence": "Δr of 0.02"}, "category": None}})
    assert note == "Social IQa, Δr per test: Δr of 0.02" and ft.power_note({}) == "n/a"


def test_chapter_results_are_what_the_schema_accepts(tmp_path):
    """The fine-tuning chapter's results dict, from one call, passes the declared schema."""
    from analysis.provenance import to_jsonable
    from analysis.results import validate_results

    curve = [{"epoch": 0, "step": 0, "items": 0, "accuracy": 0.4},
             {"epoch": 1, "step": 5, "items": 40, "accuracy": 0.5}]
    runs = {run: ft.FinetuneResult(task="siqa", model_dir=str(tmp_path / run), accuracy=curve,
                                   best_epoch=1, chance=1 / 3, seconds=2.5, best_step=5,
                                   correct_base=[0, 1, 0, 1], correct_final=[1, 1, 0, 1])
            for run in ("siqa", ft.SHUFFLED_CONTROL)}
    info = {"source": "demo", "split": "train", "n_train": 40, "n_eval": 4, "chance": 1 / 3}
    accuracy = {run: res.accuracy_interval(n_boot=50) for run, res in runs.items()}
    summary = {"percent_better": 1.25, "percent_worse": 0.0, "percent_better_ci": [0.5, 2.0],
               "category_windows_ms": [300.0]}
    names = {run: f"fine-tuned on {ft.TASK_NAMES[run]}" for run in runs}
    summaries = {"positive control": summary, "null control": summary,
                 **{names[run]: dict(summary, percent_worse=float(i))
                    for i, run in enumerate(runs)}}
    verdicts = {run: ft.retest_verdict(ft.TASK_NAMES[run], accuracy[run], summaries[names[run]],
                                       null=summary, control=run == ft.SHUFFLED_CONTROL)
                for run in runs}
    recipe = dict(model=object(), epochs=1, lr=3e-4, batch_size=8, lora=True, lora_rank=16)
    out = ft.chapter_results(
        layer=3, base_model="tiny", n_words=120, n_permutations=99, recipe=recipe, n_train=40,
        accuracy=accuracy, summaries=summaries, powers={run: {} for run in runs},
        verdicts=verdicts, lm_rows=[{"model": "base (tiny)", "nll": 3.2, "n_tokens": 50}],
        times=np.array([300.0, 325.0]), data={"siqa": ([], [], info)}, runs=runs)
    rec = validate_results("finetuning", to_jsonable(out))
    assert rec.recipe == {"lora": True, "lora_rank": 16, "lr": 3e-4, "epochs": 1, "n_train": 40}
    assert rec.better_worse[ft.SHUFFLED_CONTROL]["percent_worse"] == 1.0
    assert rec.positive_control == summary and rec.times == [300.0, 325.0]
    assert rec.verdicts["siqa"]["model"] == "Social IQa"
    assert rec.verdicts[ft.SHUFFLED_CONTROL]["answer"] == "control"
    task = rec.tasks["siqa"]
    assert task["data"] == info and task["best_step"] == 5 and task["learning_curve"] == curve
    assert not task["reused_checkpoint"] and task["training_seconds"] == 2.5
    assert rec.accuracy["siqa"]["fine_tuned"] == 0.75


def _one_component(n=240, seed=0, signal=0.0):
    """One response column (an ERP component) in 24 sentences, and two feature sets:
    the reference's (noise) and the tested model's (the reference plus one column that
    carries ``signal``)."""
    from analysis.data import WordDataset

    rng = np.random.default_rng(seed)
    x_a = rng.standard_normal((n, 6))
    carrier = rng.standard_normal(n)
    x_b = np.column_stack([x_a, carrier])
    y = signal * carrier + rng.standard_normal(n)
    ds = WordDataset(words=[f"w{i}" for i in range(n)], sentence=np.arange(n) // 10,
                     responses=y[:, None, None], times=[0.0], ch_names=["N400"])
    return ds, x_a, x_b


def test_refit_null_refits_both_models_and_detects_a_better_one():
    """One target: the re-test refits both models on every permuted response (the null
    of out-of-fold predictions; Methods page, calibration), finds a model that carries
    the response, and keeps a model that carries nothing quiet."""
    fit_kw = dict(n_folds=4, n_inner=3)
    ds, x_a, x_b = _one_component(signal=0.6)
    out = ft.brain_retest(ds, x_a, x_b, n_permutations=49, **fit_kw)
    assert out["test"]["null"]["refit"] is True
    assert out["test"]["p_greater"][0, 0] == pytest.approx(1 / 50)
    ds0, x_a0, x_b0 = _one_component(seed=1)
    quiet = ft.brain_retest(ds0, x_a0, x_b0, n_permutations=49, **fit_kw)
    assert min(quiet["test"]["p_greater"][0, 0], quiet["test"]["p_less"][0, 0]) > 0.05
    fixed = ft.brain_retest(ds0, x_a0, x_b0, n_permutations=49, null="fixed", **fit_kw)
    assert fixed["test"]["null"]["refit"] is False
    assert fixed["test"]["delta"][0, 0] == pytest.approx(quiet["test"]["delta"][0, 0])
    # the fixed-prediction null is narrower than the refit one (what makes it liberal)
    assert fixed["test"]["null_sd"][0, 0] < quiet["test"]["null_sd"][0, 0]
    from analysis.encoding import fit_encoding

    base_fit = fit_encoding(x_a0, ds0, **fit_kw)
    with pytest.raises(ValueError, match="base_values"):
        ft.brain_retest(ds0, base_fit, x_b0, n_permutations=9, null="refit", **fit_kw)
    again = ft.brain_retest(ds0, base_fit, x_b0, n_permutations=49, base_values=x_a0, **fit_kw)
    np.testing.assert_allclose(again["test"]["p_less"], quiet["test"]["p_less"])
    with pytest.raises(ValueError, match="at most 20,000"):
        ft.refit_r_difference(np.zeros((240, 30)), x_a, x_b, np.zeros(30), [], 1000)


def test_retest_beyond_the_refit_budget_widens_the_fixed_null(monkeypatch):
    """Beyond REFIT_MAX_FITS, "auto" holds the predictions fixed and widens the null by
    the refit/fixed spread ratio measured on a subset of targets (never below 1);
    without the base model's features it stays fixed and says so."""
    from analysis.encoding import fit_encoding

    fit_kw = dict(n_folds=4, n_inner=3)
    ds0, x_a0, x_b0 = _one_component(seed=1)
    monkeypatch.setattr(ft.retest, "REFIT_MAX_FITS", 10)
    out = ft.brain_retest(ds0, x_a0, x_b0, n_permutations=49, **fit_kw)
    fixed = ft.brain_retest(ds0, x_a0, x_b0, n_permutations=49, null="fixed", **fit_kw)
    null = out["test"]["null"]
    assert null["kind"] == "scaled fixed predictions" and null["refit"] is False
    assert null["scale"] >= 1.0 and null["scale_targets"] == 1
    assert null["scale_permutations"] == 49  # min(n_refit, SCALE_PERMUTATIONS)
    np.testing.assert_allclose(out["test"]["null_sd"], null["scale"] * fixed["test"]["null_sd"],
                               rtol=1e-6)
    base_fit = fit_encoding(x_a0, ds0, **fit_kw)
    bare = ft.brain_retest(ds0, base_fit, x_b0, n_permutations=49, **fit_kw)
    assert bare["test"]["null"]["kind"] == "fixed predictions"
    with pytest.raises(ValueError, match="'refit', 'scaled'"):
        ft.brain_retest(ds0, x_a0, x_b0, n_permutations=9, null="shifted", **fit_kw)
    # the other model's fit, already made by its own re-test, is reused as it is
    reused = ft.brain_retest(ds0, x_a0, x_b0, n_permutations=49, ft_fit=out["ft"], **fit_kw)
    assert reused["ft"] is out["ft"]
    np.testing.assert_array_equal(reused["test"]["p_greater"], out["test"]["p_greater"])


def test_retest_null_text_names_the_null_each_run_used():
    def rt(**null):
        return {"test": {"null": null}}

    assert ft.retest_null_text({}) == "n/a"
    assert "refit null" in ft.retest_null_text({"a": rt(refit=True, kind="refit")})
    scaled = {k: rt(refit=False, kind="scaled fixed predictions", scale=s, scale_targets=16,
                    scale_permutations=100) for k, s in (("a", 1.214), ("b", 1.302))}
    text = ft.retest_null_text(scaled)
    assert "1.21 to 1.30 (one per re-test, 2 re-tests)" in text and "16 targets" in text
    assert "100 permutations" in text and "factor of 1.21:" in ft.retest_null_text({"a": scaled["a"]})
    fixed = ft.retest_null_text({"a": rt(refit=False)})  # a record from before the kinds
    assert "too narrow" in fixed and "controls" in fixed
