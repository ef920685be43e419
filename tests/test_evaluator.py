"""The domain evaluator: trained once per dataset, deterministic, cached by key, accurate; Inception
never substituted."""

import dataclasses
import json

import pytest
import torch

from compare.metrics import evaluator
from compare.data import load_dataset
from compare.errors import UserError
from compare.metrics.evaluator import (DomainClassifier, evaluator_key, evaluator_path, load_domain_evaluator,
                                       load_extractor, train_classifier, weights_sha256)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.mark.slow  # full scoring
def test_a_fresh_install_scores_digits_and_mnist5k_with_the_shipped_evaluators_training_nothing(digits, monkeypatch,
                                                                                                tmp_path):
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path))  # an empty cache
    for data in (digits, load_dataset("mnist5k")):
        messages = []
        ext = load_domain_evaluator(data, on_train=messages.append)
        assert messages == [] and ext.info["source"] == "shipped"
        assert ext.weights_sha256 == evaluator.SHIPPED_SHA256[data.name] == weights_sha256(_net_of(data))
        assert (ext.info["heldout_accuracy"] >= 0.97
                and (evaluator.SHIPPED_DIR / f"{data.name}.pt").stat().st_size < 1_000_000)
    assert not (tmp_path / "evaluators").exists()  # nothing trained, nothing written


def _net_of(data):
    net = DomainClassifier(data.image_shape, 10)
    net.load_state_dict(torch.load(evaluator.SHIPPED_DIR / f"{data.name}.pt", weights_only=True)["state"])
    return net


def test_a_damaged_shipped_evaluator_is_refused_in_one_line(digits, monkeypatch, tmp_path):
    saved = torch.load(evaluator.SHIPPED_DIR / "digits.pt", weights_only=True)
    saved["state"]["head.bias"][0] += 1e-3
    torch.save(saved, tmp_path / "digits.pt")
    monkeypatch.setattr(evaluator, "SHIPPED_DIR", tmp_path)
    with pytest.raises(UserError, match="the file is damaged or replaced; reinstall the package") as err:
        load_domain_evaluator(digits)
    (tmp_path / "digits.pt").write_bytes(b"junk")
    with pytest.raises(UserError, match="cannot read the shipped digits evaluator") as err2:
        load_domain_evaluator(digits)
    assert "\n" not in str(err.value) + str(err2.value)


@pytest.mark.slow  # trains an evaluator
def test_other_datasets_train_once_and_load_from_the_cache(digits):
    data = dataclasses.replace(digits, name="digits-copy")  # not embedded: the train-on-first-use path
    messages = []
    first = load_domain_evaluator(data, on_train=messages.append)  # trains unless an earlier test did
    assert first.info["heldout_accuracy"] >= 0.95 and first.info["source"] == "trained"
    path = evaluator_path("digits-copy")
    assert (path.exists()
            and json.loads(path.with_suffix(".json").read_text())["heldout_accuracy"] == first.info["heldout_accuracy"])
    messages.clear()
    again = load_domain_evaluator(data, on_train=messages.append)
    assert messages == [] and again.info == first.info  # from the cache, not retrained
    x = digits.heldout[:50]
    assert torch.equal(first.extract(x).features, again.extract(x).features)
    out = again.extract(x)
    assert out.features.shape == (50, evaluator.FEATURE_DIM) and out.probs.shape == (50, 10)
    assert torch.allclose(out.probs.sum(1), torch.ones(50))


def test_training_is_deterministic_and_does_not_touch_the_global_rng(digits):
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a, _ = train_classifier(digits, steps=20)
    assert torch.equal(torch.random.get_rng_state(), before)
    b, _ = train_classifier(digits, steps=20)
    assert weights_sha256(a) == weights_sha256(b)
    c, _ = train_classifier(digits, steps=20, seed=1)
    assert weights_sha256(a) != weights_sha256(c)


def test_cache_key_hashes_dataset_split_and_version(monkeypatch):
    key = evaluator_key("digits")
    assert key != evaluator_key("mnist5k")
    monkeypatch.setattr(evaluator, "EVALUATOR_VERSION", evaluator.EVALUATOR_VERSION + 1)
    assert evaluator_key("digits") != key
    monkeypatch.setattr(evaluator, "SPLIT_SEED", 99)
    monkeypatch.setattr(evaluator, "EVALUATOR_VERSION", evaluator.EVALUATOR_VERSION - 1)
    assert evaluator_key("digits") != key


def test_a_corrupt_cache_is_retrained_not_trusted(digits, monkeypatch, tmp_path):
    monkeypatch.setenv("COMPARE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(evaluator, "TRAIN_STEPS", 10)  # a cheap evaluator: only the cache logic is under test
    path = evaluator_path("digits-copy")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    messages = []
    ext = load_domain_evaluator(dataclasses.replace(digits, name="digits-copy"), on_train=messages.append)
    assert len(messages) == 1 and torch.load(path, weights_only=True)["info"]["weights_sha256"] == ext.weights_sha256


def test_the_classifier_adapts_to_small_images():
    for shape in [(1, 28, 28), (3, 32, 32), (1, 8, 8), (1, 5, 5), (1, 3, 3)]:
        net = DomainClassifier(shape, 7)
        assert net(torch.rand(2, *shape)).shape == (2, 7)


def test_wrong_image_size_is_a_user_error_before_any_training(digits):
    with pytest.raises(UserError, match="takes 1x8x8"):
        load_extractor("evaluator", digits, images={"B's images": torch.rand(3, 1, 28, 28)})
    with pytest.raises(UserError, match="unknown feature extractor"):
        load_extractor("clip", digits)


def test_inception_without_weights_stops_with_a_one_line_message_instead_of_a_substitute(digits):
    with pytest.raises(UserError) as err:
        load_extractor("inception", digits)
    message = str(err.value)
    assert "torch-fidelity" in message and "pt_inception" in message and "\n" not in message


def test_inception_when_available_gets_uint8_rgb_and_gives_features_and_class_probabilities(digits, monkeypatch):
    import torchmetrics.image.fid as tm_fid

    seen = []

    class StubInception(torch.nn.Module):  # stands in for torch-fidelity's network, which this machine lacks
        def __init__(self, name, features_list):
            super().__init__()
            assert features_list == ["2048", "logits_unbiased"]
            self.head = torch.nn.Linear(3, 1008)

        def _torch_fidelity_forward(self, x):
            seen.append((x.dtype, tuple(x.shape[1:])))
            pooled = x.float().mean(dim=(2, 3)) / 255  # (B, 3)
            return pooled.repeat(1, 4), self.head(pooled)

    monkeypatch.setattr(tm_fid, "NoTrainInceptionV3", StubInception)
    ext = load_extractor("inception", digits)
    out = ext.extract(digits.heldout[:10])
    assert seen == [(torch.uint8, (3, 8, 8))] and out.features.shape == (10, 12) and out.probs.shape == (10, 1008)
    assert (torch.allclose(out.probs.sum(1), torch.ones(10)) and ext.name == "inception-v3"
            and len(ext.weights_sha256) == 64)


@pytest.mark.slow  # trains the mnist5k evaluator: ~15 s on one free core
def test_the_recipe_reaches_97_percent_on_mnist5k():
    # (Not necessarily the shipped weights: two machines' torch builds gave different ones, hence the shipped file.)
    net, info = evaluator.train_evaluator(load_dataset("mnist5k"))
    assert info["weights_sha256"] == weights_sha256(net) and info["heldout_accuracy"] >= 0.97


@pytest.mark.slow  # trains an evaluator
def test_unlabelled_dataset_gets_an_autoencoder_and_class_metrics_are_not_available(tmp_path):
    import dataclasses

    from compare.data import load_dataset
    from compare.metrics.scoring import evaluate_views
    from compare.metrics.evaluator import load_extractor

    labelled = load_dataset("digits")
    data = dataclasses.replace(labelled, name="digits-unlabelled", train_labels=None, heldout_labels=None)
    extractor = load_extractor("evaluator", data)
    assert extractor.info["classes"] == 0 and extractor.info["heldout_accuracy"] is None
    assert 0 < extractor.info["heldout_reconstruction_bce_per_pixel"] < 0.5  # it learnt to reconstruct
    quality = evaluate_views({"same": labelled.heldout}, data, extractor)["views"]["same"]
    assert quality["mode_coverage"]["values"]["modes_hit"] is None  # not available (NaN, stored as null)
    assert quality["classifier_score"]["values"]["classifier_score"] is None
    assert quality["fid"]["values"]["fid"] < 50  # the feature metrics still work
