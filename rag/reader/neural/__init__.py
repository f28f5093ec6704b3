"""The neural reader: the installed encoder with a LoRA adapter and a span head (trained by
``python -m eval.train_neural_reader``)."""
