"""Keras 3's ``applications.ResNet50`` (random weights) exported by Keras itself to ONNX, with the torch
backend: ``python -m resnet_studio.export.keras_resnet50 OUT.onnx``. For the foreign-file benchmark."""

import os
import sys

if __name__ == "__main__":
    os.environ["KERAS_BACKEND"] = "torch"  # read when keras is first imported
    import keras
    import numpy as np

    model = keras.applications.ResNet50(weights=None)
    model(np.zeros((1, 224, 224, 3), "float32"))  # Keras exports only a model that has run once
    model.export(sys.argv[1], format="onnx")
