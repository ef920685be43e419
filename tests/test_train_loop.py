"""The training loop on a stub model: where only counting steps, readings, checkpoints and stops matters."""

import torch
from torch import nn

from compare.train.loop import LOG_EVERY, train


class StubModel:
    """The protocol's smallest model: one weight, a loss that counts its calls, no real learning."""

    def __init__(self):
        self.device = torch.device("cpu")
        self.config = None
        self.net = nn.Linear(1, 1)
        self.batches: list[torch.Tensor] = []

    def train_step(self, batch):
        self.batches.append(batch)
        loss = self.net(batch.flatten(1)[:, :1]).pow(2).mean()
        loss.backward()
        return {"loss": loss.detach()}

    def sample(self, n, generator=None):
        return torch.rand(n, 1, 2, 2, generator=generator)

    def parts(self):
        return {"net": self.net}


IMAGES = torch.arange(40, dtype=torch.float32).view(40, 1, 1, 1) / 40  # 40 images, 10 batches of 4 an epoch


def test_it_takes_exactly_the_steps_asked_and_logs_every_reading():
    model = StubModel()
    record = train(model, IMAGES, 120, 4, seed=0)
    assert record.steps == len(model.batches) == 120 and record.images == 480 and record.status == "finished"
    assert ([h["step"] for h in record.history]
            == list(range(LOG_EVERY, 121, LOG_EVERY)) + ([120] if 120 % LOG_EVERY else []))
    assert all(len(b) == 4 for b in model.batches)
    # every epoch (10 steps) sees each image exactly once
    assert sorted(torch.cat(model.batches[:10]).flatten().tolist()) == IMAGES.flatten().tolist()


def test_checkpoints_and_evaluations_come_when_due_and_a_stop_ends_at_a_checkpoint():
    saved, evaluated = [], []
    record = train(StubModel(), IMAGES, 50, 4, seed=0, checkpoint_every=20,
                   on_checkpoint=lambda r: saved.append(r.steps), eval_due=lambda step, seconds: step in (7, 33),
                   on_eval=lambda r: evaluated.append(r.steps))
    assert saved == [20, 40, 50] and evaluated == [7, 33] and record.steps == 50

    class Stop:
        requested = None

    stop, model, saved = Stop(), StubModel(), []
    step = model.train_step

    def signalled_at_step_13(batch):  # as a signal handler would, mid-step
        if len(model.batches) == 12:
            stop.requested = 2
        return step(batch)

    model.train_step = signalled_at_step_13
    record = train(model, IMAGES, 50, 4, seed=0, checkpoint_every=20, stop=stop,
                   on_checkpoint=lambda r: saved.append(r.steps))
    assert record.steps == 13 and record.status == "training" and len(model.batches) == 13 and saved == [13]


def test_a_resumed_record_continues_with_the_same_batches():
    whole = StubModel()
    train(whole, IMAGES, 30, 4, seed=3)
    first, second = StubModel(), StubModel()
    record = train(first, IMAGES, 13, 4, seed=3)
    train(second, IMAGES, 30, 4, seed=3, record=record)
    assert torch.equal(torch.cat(first.batches + second.batches), torch.cat(whole.batches))
