"""MNIST loading: the real IDX files, crafted good and bad IDX files, TFDS with mock data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from jaxopt_lab import data
from jaxopt_lab.data import CorruptIdxFileError, MnistNotFoundError, load_mnist


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file written from scratch (independent of the reader): header, then bytes."""
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist_dir(directory: Path, *, n_train=6, n_test=4, gzipped=False, seed=0) -> dict:
    """Four small IDX files in ``directory``; returns the raw uint8 arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for key, array in arrays.items():
        magic = 0x803 if key.endswith("images") else 0x801
        content = idx_bytes(array, magic)
        name = data.IDX_FILES[key]
        if gzipped:
            (directory / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (directory / name).write_bytes(content)
    return arrays


# --------------------------------------------------------------------------- real MNIST


def test_real_mnist_matches_published_statistics(mnist_dir):
    mnist = load_mnist("idx", mnist_dir)
    assert mnist.train_images.shape == (60000, 784) and mnist.train_images.dtype == np.float32
    assert mnist.test_images.shape == (10000, 784) and mnist.test_images.dtype == np.float32
    assert mnist.train_labels.dtype == np.int32 and mnist.test_labels.dtype == np.int32
    assert mnist.train_images.min() == 0.0 and mnist.train_images.max() == 1.0
    # The figures in shared/data/mnist/README (the published MNIST statistics), to their
    # 5 printed digits.
    assert abs(float(mnist.train_images.mean(dtype=np.float64)) - 0.13066) < 5e-6
    assert abs(float(mnist.train_images.std(dtype=np.float64)) - 0.30811) < 5e-6
    train_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(mnist.train_labels).tolist() == train_counts
    assert np.bincount(mnist.test_labels).tolist() == test_counts


def test_auto_prefers_the_environment_directory(mnist_dir, monkeypatch):
    monkeypatch.setenv(data.ENVIRONMENT_VARIABLE, str(mnist_dir))
    monkeypatch.setattr(data, "load_tfds", lambda *a, **k: pytest.fail("TFDS was used"))
    assert load_mnist().train_images.shape == (60000, 784)


# --------------------------------------------------------------------------- crafted IDX


@pytest.mark.parametrize("gzipped", [False, True])
def test_small_idx_files_round_trip(tmp_path, gzipped):
    raw = write_mnist_dir(tmp_path, gzipped=gzipped)
    mnist = load_mnist("idx", tmp_path)
    # x / 255 in float32, exactly as the tutorial's normalize=True computes it.
    expected = raw["train_images"].reshape(6, 784).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(mnist.train_images, expected)
    np.testing.assert_array_equal(mnist.test_labels, raw["test_labels"].astype(np.int32))
    assert mnist.test_images.shape == (4, 784)


def test_wrong_magic_names_the_file(tmp_path):
    write_mnist_dir(tmp_path)
    labels_path = tmp_path / data.IDX_FILES["train_labels"]
    images_path = tmp_path / data.IDX_FILES["train_images"]
    # A labels file where the images file should be.
    images_path.write_bytes(labels_path.read_bytes())
    with pytest.raises(CorruptIdxFileError, match=r"train-images-idx3.*magic number 0x00000801"):
        load_mnist("idx", tmp_path)


def test_truncated_data_names_the_file(tmp_path):
    write_mnist_dir(tmp_path)
    path = tmp_path / data.IDX_FILES["test_images"]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptIdxFileError, match=r"t10k-images-idx3-ubyte.*truncated"):
        load_mnist("idx", tmp_path)


def test_truncated_header_names_the_file(tmp_path):
    write_mnist_dir(tmp_path)
    path = tmp_path / data.IDX_FILES["test_labels"]
    path.write_bytes(path.read_bytes()[:6])
    with pytest.raises(CorruptIdxFileError, match=r"t10k-labels-idx1-ubyte.*header truncated"):
        load_mnist("idx", tmp_path)


def test_truncated_gzip_names_the_file(tmp_path):
    write_mnist_dir(tmp_path, gzipped=True)
    path = tmp_path / (data.IDX_FILES["train_images"] + ".gz")
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(CorruptIdxFileError, match=r"train-images-idx3-ubyte\.gz.*gzip"):
        load_mnist("idx", tmp_path)


def test_count_mismatch_names_both_files(tmp_path):
    write_mnist_dir(tmp_path)
    labels = np.zeros(5, np.uint8)  # 6 images, 5 labels
    (tmp_path / data.IDX_FILES["train_labels"]).write_bytes(idx_bytes(labels, 0x801))
    with pytest.raises(CorruptIdxFileError, match=r"6 images but .*train-labels.* 5 labels"):
        load_mnist("idx", tmp_path)


def test_wrong_image_shape_and_label_values(tmp_path):
    write_mnist_dir(tmp_path)
    path = tmp_path / data.IDX_FILES["train_images"]
    path.write_bytes(idx_bytes(np.zeros((6, 32, 32), np.uint8), 0x803))
    with pytest.raises(CorruptIdxFileError, match=r"train-images.*\(32, 32\)"):
        load_mnist("idx", tmp_path)
    write_mnist_dir(tmp_path)
    path = tmp_path / data.IDX_FILES["test_labels"]
    path.write_bytes(idx_bytes(np.full(4, 12, np.uint8), 0x801))
    with pytest.raises(CorruptIdxFileError, match=r"t10k-labels.*label 12"):
        load_mnist("idx", tmp_path)


def test_missing_file_says_how_to_get_mnist(tmp_path):
    write_mnist_dir(tmp_path)
    (tmp_path / data.IDX_FILES["test_labels"]).unlink()
    with pytest.raises(MnistNotFoundError, match=r"t10k-labels-idx1-ubyte.*JAXOPT_LAB_MNIST_DIR"):
        load_mnist("idx", tmp_path)


def test_idx_without_directory_says_how(monkeypatch):
    monkeypatch.delenv(data.ENVIRONMENT_VARIABLE, raising=False)
    with pytest.raises(MnistNotFoundError, match="data_dir or JAXOPT_LAB_MNIST_DIR"):
        load_mnist("idx")


def test_bad_source_is_named():
    with pytest.raises(ValueError, match="source must be"):
        load_mnist("kaggle")


# --------------------------------------------------------------------------- TFDS


def test_offline_auto_without_data_says_how(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.delenv(data.ENVIRONMENT_VARIABLE, raising=False)

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to establish a new connection: no network")

    monkeypatch.setattr(tfds, "data_source", offline)
    with pytest.raises(MnistNotFoundError) as error:
        load_mnist()
    message = str(error.value)
    assert "no network" in message and "--data-dir" in message and "internet" in message


def test_tfds_source_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=7):
        mnist = load_mnist("tfds")
        # The raw examples, read straight from the same (mock) data source.
        raw_train = tfds.data_source("mnist", split="train")
        raw_images = np.stack([np.asarray(raw_train[i]["image"]) for i in range(7)])
        raw_labels = np.asarray([raw_train[i]["label"] for i in range(7)])
    assert mnist.train_images.shape == (7, 784) and mnist.train_images.dtype == np.float32
    assert mnist.test_images.shape == (7, 784)
    assert mnist.train_labels.dtype == np.int32
    np.testing.assert_array_equal(
        mnist.train_images, raw_images.reshape(7, 784).astype(np.float32) / np.float32(255)
    )
    np.testing.assert_array_equal(mnist.train_labels, raw_labels)
