import pytest

from compare.budget import Budget
from compare.errors import UserError


@pytest.mark.parametrize("text, steps", [("3000steps", 3000), ("3000 steps", 3000), ("1e3steps", 1000),
                                         ("1280images", 10), ("1281images", 11), ("2epochs", 16)])
def test_budget_resolves_to_steps(text, steps):
    # batch 128 on a 1,000-image training split: 2 epochs = 2000 images = 15.6 -> 16 steps
    assert Budget.parse(text).steps(batch_size=128, train_size=1000) == steps


@pytest.mark.parametrize("text", ["", "3000", "steps", "3000 stepz", "-5steps", "0steps", "2.5steps", "nanimages", "1e999steps"])
def test_malformed_budgets_are_user_errors(text):
    with pytest.raises(UserError):
        Budget.parse(text)


def test_budget_prints_as_typed():
    assert str(Budget.parse("20epochs")) == "20epochs"
