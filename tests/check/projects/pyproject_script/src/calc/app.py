from qtpy.QtWidgets import QApplication

from calc.engine import Engine


def run():  # QC002
    app = QApplication([])
    engine = Engine()
    engine.start()
    app.exec()
