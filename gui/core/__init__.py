"""The Qt-free, torch-free engine behind the app and the command line."""
