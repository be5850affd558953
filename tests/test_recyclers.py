"""Recyclers: exact where the maths says so, seeded, saved and loaded, cancellable."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from recycler_gui.core.errors import CorruptFileError
from recycler_gui.core.events import Cancelled, CancelToken, Point
from recycler_gui.core.transfer.recyclers import RECYCLERS, RecyclerParameterError, recycler_class


def _linear_world(words: int = 600, source_dim: int = 24, target_dim: int = 40, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    source = torch.randn(words, source_dim, generator=generator, dtype=torch.float64)
    weight = torch.randn(source_dim, target_dim, generator=generator, dtype=torch.float64)
    prompt = torch.randn(5, source_dim, generator=generator, dtype=torch.float64) * 4
    return source, weight, source @ weight, prompt


def test_v2v_lin_recovers_an_exact_linear_map() -> None:
    source, weight, target, prompt = _linear_world()
    recycler = recycler_class("v2v-lin")().fit(source, target)
    torch.testing.assert_close(recycler.state["weight"], weight, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(recycler(prompt).double(), prompt @ weight, rtol=1e-4, atol=1e-4)
    assert recycler.fit_loss is not None and recycler.fit_loss < 1e-12


def test_lin_comb_reproduces_the_image_of_a_prompt_in_the_support_span() -> None:
    source, weight, target, _ = _linear_world(words=10)  # fewer support words than dimensions: a proper subspace
    mix = torch.randn(5, 10, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    prompt = mix @ source
    recycled = recycler_class("lin-comb")().fit(source, target)(prompt)
    torch.testing.assert_close(recycled.double(), prompt @ weight, rtol=1e-4, atol=1e-4)


def test_lin_comb_equals_v2v_lin_with_more_words_than_dimensions() -> None:
    source, _, target, prompt = _linear_world()
    target = target + 0.1 * torch.randn(target.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    lin = recycler_class("v2v-lin")().fit(source, target)(prompt)
    comb = recycler_class("lin-comb")().fit(source, target)(prompt)
    torch.testing.assert_close(comb, lin, rtol=1e-4, atol=1e-4)


def test_v2v_nn_loss_ends_far_below_its_start() -> None:
    source, weight, _, _ = _linear_world(words=1000, target_dim=16)
    source = source / 5  # word vectors of about unit length, as in real embedding tables
    points: list[Point] = []
    recycler = recycler_class("v2v-nn")(seed=0).fit(source, source @ weight / 5, events=points.append)
    assert len(recycler.loss_history) == 26  # before training, then after each of the 25 epochs
    assert recycler.loss_history[-1] < 0.2 * recycler.loss_history[0]
    assert [p.x for p in points] == list(range(26))
    assert points[0].series == "fit loss: v2v-nn"


def _rotated_world() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Words, the same words rotated, scaled and shifted, a prompt 10x the words' length, and its exact image."""
    generator = torch.Generator().manual_seed(2)
    source = torch.randn(400, 16, generator=generator, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(16, 16, generator=generator, dtype=torch.float64))
    prompt = torch.randn(4, 16, generator=generator, dtype=torch.float64) * 10
    return source, source @ rotation * 3.0 + 0.5, prompt, prompt @ rotation * 3.0 + 0.5


def test_procrustes_recovers_a_rotation_with_scale_and_shift() -> None:
    source, target, prompt, exact = _rotated_world()
    recycled = recycler_class("procrustes")(norm="keep").fit(source, target)(prompt)
    torch.testing.assert_close(recycled.double(), exact, rtol=1e-4, atol=1e-4)


def test_procrustes_by_default_keeps_the_direction_and_sets_the_target_vocabulary_length() -> None:
    source, target, prompt, exact = _rotated_world()
    recycled = recycler_class("procrustes")().fit(source, target)(prompt).double()
    torch.testing.assert_close(F.cosine_similarity(recycled, exact), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(recycled.norm(dim=1), target.norm(dim=1).mean().expand(4), rtol=1e-5, atol=1e-5)


def test_ridge_is_exact_on_an_exact_linear_map_when_rows_keep_their_length() -> None:
    source, weight, target, prompt = _linear_world()
    recycled = recycler_class("ridge")(norm="keep").fit(source, target)(prompt)
    torch.testing.assert_close(recycled.double(), prompt @ weight, rtol=1e-3, atol=1e-3)


def test_ridge_rescales_rows_to_the_target_vocabulary_norm() -> None:
    source, _, target, prompt = _linear_world()
    recycled = recycler_class("ridge")().fit(source, target)(prompt * 50)
    expected = target.norm(dim=1).mean()
    torch.testing.assert_close(recycled.norm(dim=1).double(), expected.expand(5), rtol=1e-4, atol=1e-4)


def test_relative_finds_rows_with_the_same_neighbourhood() -> None:
    generator = torch.Generator().manual_seed(3)
    source = torch.randn(800, 16, generator=generator, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(16, 16, generator=generator, dtype=torch.float64))
    prompt = torch.randn(4, 16, generator=generator, dtype=torch.float64)
    recycled = recycler_class("relative")(steps=400).fit(source, source @ rotation)(prompt)
    cosine = F.cosine_similarity(recycled.double(), prompt @ rotation, dim=1)
    assert cosine.min() > 0.95


@pytest.mark.parametrize("method", list(RECYCLERS))
def test_save_and_load_give_the_same_outputs(method: str, tmp_path: Path) -> None:
    source, _, target, prompt = _linear_world(words=200)
    fitted = recycler_class(method)(seed=4).fit(source, target)
    fitted.save(tmp_path / "fitted.safetensors")
    loaded = recycler_class(method).load(tmp_path / "fitted.safetensors")
    assert (loaded.name, loaded.seed, loaded.params, loaded.loss_history) == (
        method, 4, fitted.params, fitted.loss_history,
    )
    torch.testing.assert_close(loaded(prompt), fitted(prompt))
    other = next(cls for name, cls in RECYCLERS.items() if name != method)
    with pytest.raises(CorruptFileError, match=f"holds a fitted {method}, not {other.name}"):
        other.load(tmp_path / "fitted.safetensors")


def test_the_same_seed_gives_the_same_recycler_and_another_seed_does_not() -> None:
    source, _, target, prompt = _linear_world(words=300, target_dim=8)
    first = recycler_class("v2v-nn")(seed=7, epochs=3).fit(source, target)(prompt)
    again = recycler_class("v2v-nn")(seed=7, epochs=3).fit(source, target)(prompt)
    other = recycler_class("v2v-nn")(seed=8, epochs=3).fit(source, target)(prompt)
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_cancel_mid_fit_stops_after_the_current_epoch() -> None:
    source, _, target, _ = _linear_world(words=300, target_dim=8)
    token = CancelToken()
    recycler = recycler_class("v2v-nn")()

    def cancel_after_first_epoch(event: object) -> None:
        token.cancel()

    with pytest.raises(Cancelled):
        recycler.fit(source, target, events=cancel_after_first_epoch, cancel=token)
    assert len(recycler.loss_history) == 1  # the loss before training; no epoch ran after the cancel


def test_unknown_method_and_parameter_are_named() -> None:
    with pytest.raises(RecyclerParameterError, match="unknown recycling method 'v2v-magic'.*v2v-lin"):
        recycler_class("v2v-magic")
    with pytest.raises(RecyclerParameterError, match="v2v-lin has no parameter epochs"):
        recycler_class("v2v-lin")(epochs=3)
    with pytest.raises(RecyclerParameterError, match="unknown norm mode 'huge'"):
        recycler_class("ridge")(norm="huge")


def test_an_unfitted_recycler_says_so() -> None:
    with pytest.raises(RecyclerParameterError, match="not fitted"):
        recycler_class("v2v-lin")()(torch.ones(2, 3))


def test_kernel_mix_carries_which_words_a_row_points_to_and_stays_in_the_target_region() -> None:
    torch.manual_seed(0)
    source, target = torch.randn(300, 16), torch.randn(300, 24)
    recycler = recycler_class("kernel")(top_k=4, temperature=0.01).fit(source, target)
    far_out = source[[5, 17]] * 14.0  # rows pointing at words 5 and 17, far outside the vocabulary's region
    recycled = recycler(far_out)
    assert torch.allclose(recycled, target[[5, 17]], atol=1e-3)
    assert recycled.norm(dim=1).max() <= target.norm(dim=1).max()
