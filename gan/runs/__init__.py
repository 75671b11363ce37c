"""The files of a run and how they are named and written, without Keras: the run folder,
its checkpoints, atomic writes and the recipe's text log. Every tool that reads a run
(plots, GIFs, evaluation, the web page) reads it through here."""
