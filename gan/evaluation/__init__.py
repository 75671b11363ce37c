"""How good a generator is: the standard FID Inception network and its weights, the
metrics on its features (FID, KID, precision, recall), and the evaluator that scores a
generator against a folder of real images."""
