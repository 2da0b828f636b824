"""The dataset view: a whole dataset's videos with ground truth, predictions and flow quality."""
