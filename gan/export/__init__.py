"""A trained generator as files other runtimes load: a TensorFlow SavedModel, ONNX,
TFLite (LiteRT) and a static web page, each proven against the float32 Keras generator by its own runtime.

    packages   the optional exporters and runtimes, and the pip line that installs them
    float32    a float32 copy of a generator trained in any precision
    writers    one function per format that writes its files into a folder (Keras' export)
    runners    each format's own runtime behind one call: noise -> images (numpy in, numpy out)
    parity     the largest difference between a runner and the Keras generator, and its limit
    staging    a new output folder that appears whole or not at all
    manifest   export.json and README.md beside the exported files
    onnxruntime_web  the browser runtime's files for the web page: from npm, or a folder given
    web_site   --format web: the static page, generator.onnx, the seeds' noise, the runtime
    formats    the registry: per format its writer, runner, packages and how to call it
    exporter   export_generator(): all of the above in order, for export.py

This package imports nothing heavy at import time: runners.py's ONNX runner needs only
numpy and onnxruntime, so a TensorFlow-free program can use it.
"""
