"""The embedded labelled training set: ImageNet layout, balanced, distinct from the test set."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from brainalign.data.synthetic_stimuli import make_category_images, make_stimuli
from brainalign.data.training_set import max_test_correlation, write_training_set


def test_layout_balance_and_no_test_image(tmp_path):
    test, _, _ = make_stimuli(92, 5)
    counts = write_training_set(
        tmp_path, train_per_category=4, val_per_category=2, seed=9, test_images=test
    )
    assert counts == {"train": 24, "val": 12}
    folders = sorted(p.name for p in (tmp_path / "train").iterdir())
    assert folders == sorted(p.name for p in (tmp_path / "val").iterdir())
    assert folders == [
        "animal_body", "animal_face", "artificial_object",
        "human_body", "human_face", "natural_object",
    ]  # fmt: skip
    files = sorted((tmp_path / "train").rglob("*.png"))
    assert all(len(list((tmp_path / "train" / f).glob("*.png"))) == 4 for f in folders)
    written = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    assert written.shape == (24, 175, 175, 3)
    assert max_test_correlation(written, test).max() <= 0.99


def test_redraw_removes_near_copies_and_is_seeded(tmp_path):
    images, _ = make_category_images(3, 4)
    assert max_test_correlation(images, images).min() == pytest.approx(1.0)
    write_training_set(tmp_path / "a", train_per_category=2, val_per_category=1, seed=4,
                       test_images=images)  # fmt: skip
    write_training_set(tmp_path / "b", train_per_category=2, val_per_category=1, seed=4,
                       test_images=images)  # fmt: skip
    a = sorted((tmp_path / "a").rglob("*.png"))
    b = sorted((tmp_path / "b").rglob("*.png"))
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    got = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in a])
    assert max_test_correlation(got, images).max() <= 0.99
    with pytest.raises(ValueError, match="train_per_category"):
        write_training_set(tmp_path / "c", train_per_category=0, val_per_category=1, seed=1)
