"""The base of every form: reads only HTML form fields, never a JSON body.

Flask-WTF would otherwise build form data from a JSON request, where a field can be a
number, a list or an object, and validators written for text would fail on it.
"""

from typing import Any

from flask import request
from flask_wtf import FlaskForm
from werkzeug.datastructures import CombinedMultiDict


class PortalForm(FlaskForm):
    class Meta:
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            if formdata is not None and not hasattr(formdata, "getlist"):  # flask_wtf's _Auto
                if request.method in ("POST", "PUT", "PATCH", "DELETE"):
                    return CombinedMultiDict((request.files, request.form))
                return None
            return formdata
