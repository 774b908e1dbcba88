"""Datasets: the IDX reader, Fashion-MNIST and EMNIST loaders, the synthetic T/L set, augmentation."""

from cnnlib.data.augment import (crop_and_flip, flip_pixels, random_flip, random_shift, shift,
                                 shift_and_flip)
from cnnlib.data.emnist import emnist_letters
from cnnlib.data.folder import IMAGE_EXTENSIONS, image_folder
from cnnlib.data.fashion import FASHION_CLASSES, download_fashion_mnist, fashion_mnist
from cnnlib.data.idx import read_idx, write_idx
from cnnlib.data.scenes import Scenes, make_scenes
from cnnlib.data.synthetic import letter_shape, place, tl_letters

__all__ = ["FASHION_CLASSES", "crop_and_flip", "download_fashion_mnist", "emnist_letters",
           "fashion_mnist", "random_flip",
           "flip_pixels", "letter_shape", "place", "random_shift", "read_idx", "shift",
           "shift_and_flip", "tl_letters", "write_idx", "Scenes", "make_scenes",
           "IMAGE_EXTENSIONS", "image_folder"]
