"""read_pkl: the data file is one plain pickle."""
import pickle


def read_pkl(path):
    with open(path, "rb") as fh:
        return pickle.load(fh)
