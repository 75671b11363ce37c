"""What a run can be asked to do, without Keras: the allowed values of every choice, the
recipe's numbers, the preset table and TrainConfig. Validating a command line never waits
for TensorFlow to start."""
