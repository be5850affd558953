"""The Qt desktop application: a thin shell over ``recycler_gui.core``."""
