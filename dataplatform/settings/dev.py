from .base import *

DEBUG = env.bool("DEBUG", default=True)
