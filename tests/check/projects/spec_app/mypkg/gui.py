import sys

from PyQt5.QtWidgets import QApplication, QMainWindow, QPushButton

from . import analysis, window_harness


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.button = QPushButton("Analyse", self)
        self.button.clicked.connect(self.on_analyse)

    def on_analyse(self):
        print(analysis.analyse(range(100)))


def main_gui():
    app = QApplication(sys.argv)
    window = MainWindow()
    window.show()
    sys.exit(app.exec_())
