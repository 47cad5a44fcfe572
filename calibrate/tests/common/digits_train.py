"""Writes the first N rows of the digits demo's training split (train_demo.py's split: same
test size and seed, so it never overlaps assets/models/digits_test_x.npy) as float32 .npy.

usage: digits_train.py N OUT.npy
"""
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

digits = load_digits()
x_train, _, _, _ = train_test_split(digits.data, digits.target, test_size=0.25, random_state=0)
np.save(sys.argv[2], x_train[: int(sys.argv[1])].astype(np.float32))
