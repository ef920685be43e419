import pytest

from compare.settings import Budget, check_matched, consumed
from compare.errors import UserError


@pytest.mark.parametrize("text, steps", [("3000steps", 3000), ("3000 steps", 3000), ("1e3steps", 1000),
                                         ("1280images", 10), ("1281images", 11), ("2epochs", 16),
                                         ("1e6flops", 10), ("1.00001e6flops", 11), ("90s", None)])
def test_budget_resolves_to_steps(text, steps):
    # batch 128 on a 1,000-image training split at 1e5 FLOPs a step:
    # 2 epochs = 2000 images = 15.6 -> 16 steps; seconds are known only when they run out
    assert Budget.parse(text).steps(batch_size=128, train_size=1000, flops_per_step=100_000) == steps


def test_seconds_budget():
    assert Budget.parse("90s").seconds == 90 and Budget.parse("90steps").seconds is None


def test_consumption_in_every_unit_and_the_matched_check():
    gan = consumed(steps=10, batch_size=100, train_size=500, seconds=2.0, flops_per_step=1000)
    assert gan == {"steps": 10, "images": 1000, "epochs": 2.0, "s": 2.0, "flops": 10_000}
    vae = consumed(steps=20, batch_size=100, train_size=500, seconds=2.05, flops_per_step=500)
    check_matched(Budget.parse("1e4flops"), {"gan": gan, "vae": vae})  # equal FLOPs
    check_matched(Budget.parse("2s"), {"gan": gan, "vae": vae})  # both at least 2 s
    slow_last_step = {**vae, "s": 2.9}  # a loaded machine stalled the step that crossed 2 s: still matched
    check_matched(Budget.parse("2s"), {"gan": gan, "vae": slow_last_step})
    with pytest.raises(UserError, match="stopped short of the 2s budget .gan 1.9"):
        check_matched(Budget.parse("2s"), {"gan": {**gan, "s": 1.9}, "vae": vae})
    with pytest.raises(UserError, match="not matched"):
        check_matched(Budget.parse("10steps"), {"gan": gan, "vae": vae})  # 10 steps apart


@pytest.mark.parametrize("text", ["", "3000", "steps", "3000 stepz", "-5steps", "0steps", "2.5steps", "nanimages",
                                  "1e999steps"])
def test_malformed_budgets_are_user_errors(text):
    with pytest.raises(UserError):
        Budget.parse(text)


def test_budget_prints_as_typed():
    assert str(Budget.parse("20epochs")) == "20epochs"
