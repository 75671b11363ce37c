"""Images in: decoding any file a user brings, listing a folder, and the batch streams."""
