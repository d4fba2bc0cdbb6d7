"""The Lessons page's parts (``pages/lessons.py`` lays them out): widget keys and navigation, the
measured outcomes shared by the server, the widgets of one lesson, and its recorded runs."""
