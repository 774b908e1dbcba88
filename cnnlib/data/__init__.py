"""Datasets: the IDX reader, Fashion-MNIST and EMNIST loaders, the synthetic T/L set, augmentation."""

from cnnlib.data.augment import flip_pixels, random_shift, shift, shift_and_flip
from cnnlib.data.emnist import emnist_letters
from cnnlib.data.fashion import FASHION_CLASSES, download_fashion_mnist, fashion_mnist
from cnnlib.data.idx import read_idx, write_idx
from cnnlib.data.synthetic import letter_shape, place, tl_letters

__all__ = ["FASHION_CLASSES", "download_fashion_mnist", "emnist_letters", "fashion_mnist",
           "flip_pixels", "letter_shape", "place", "random_shift", "read_idx", "shift",
           "shift_and_flip", "tl_letters", "write_idx"]
