"""Shipped priors (installed as ``restore.pretrained``); see README.md here for the model card."""
