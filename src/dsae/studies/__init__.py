"""Studies: self-contained numerical experiments about the models' objectives (``dsae study``).

``vem``: the variational-EM bias of the ELBO on a linear-Gaussian sequence model
(Turner & Sahani 2011), with the two encoders of Li & Mandt (2018).
"""
