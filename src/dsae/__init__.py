"""dsae: disentangled representations of sequences.

One static code f for what stays fixed through a sequence and dynamic codes z_1..z_T for
what changes, after Li & Mandt (2018), "Disentangled Sequential Autoencoder".
"""

__version__ = "0.1.0"
