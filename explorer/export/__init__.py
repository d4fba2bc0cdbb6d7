"""Take a design away: the model of a query as a standalone Python file (:mod:`.code`), checked in
a fresh interpreter (:mod:`.check`), or as ONNX and ``torch.export`` files (:mod:`.formats`)."""
