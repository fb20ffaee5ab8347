"""The public blueprints, as a table of contents: every public route, and the view that
answers it. (The tracking image and the Stripe webhook have blueprints of their own.)"""

from flask import Blueprint

from portal.public import licence_views, payment_views, views

public = Blueprint("public", __name__)
payments = Blueprint("payments", __name__)
licences = Blueprint("licences", __name__)

bp = public
# views
bp.add_url_rule('/', 'article_list', views.article_list, methods=['GET'])
bp.add_url_rule('/articles/<slug>', 'article', views.article, methods=['GET'])
bp.add_url_rule('/articles/<slug>/republish', 'republish_form', views.republish_form, methods=['GET', 'POST'])
bp.add_url_rule('/republish', 'republish_by_url', views.republish_by_url, methods=['GET'])
bp.add_url_rule('/requests/<token>', 'request_status', views.request_status, methods=['GET'])
bp.add_url_rule('/requests/<token>/accept', 'accept_quote', views.accept_quote, methods=['POST'])
bp.add_url_rule('/requests/<token>/decline-quote', 'decline_quote', views.decline_quote, methods=['POST'])
bp.add_url_rule('/requests/<token>/answer', 'answer', views.answer, methods=['POST'])
bp.add_url_rule('/requests/<token>/withdraw', 'withdraw', views.withdraw, methods=['POST'])
bp.add_url_rule('/healthz', 'healthz', views.healthz, methods=['GET'])
bp.add_url_rule('/readyz', 'readyz', views.readyz, methods=['GET'])

bp = payments
# payment views
bp.add_url_rule("/requests/<token>/pay", "pay", payment_views.pay, methods=["POST"])
bp.add_url_rule("/requests/<token>/payment", "payment_return", payment_views.payment_return,
                methods=["GET"])
bp.add_url_rule("/payments/<key>/return", "checkout_return", payment_views.checkout_return,
                methods=["GET"])
bp.add_url_rule("/payments/<key>/cancelled", "checkout_cancelled",
                payment_views.checkout_cancelled, methods=["GET"])
bp.add_url_rule("/requests/<token>/invoice/<number>.pdf", "invoice", payment_views.invoice,
                methods=["GET"])
bp.add_url_rule("/payments/demo/<ref>", "demo_checkout", payment_views.demo_checkout,
                methods=["GET"])
bp.add_url_rule("/payments/demo/<ref>/<outcome>", "demo_checkout_act",
                payment_views.demo_checkout_act, methods=["POST"])

bp = licences
# licence views
bp.add_url_rule('/requests/<token>/licence/<number>.html', 'copy_html', licence_views.copy_html, methods=['GET'])
bp.add_url_rule('/requests/<token>/licence/<number>.txt', 'copy_text', licence_views.copy_text, methods=['GET'])
bp.add_url_rule('/requests/<token>/licence/<number>.pdf', 'certificate', licence_views.certificate, methods=['GET'])
bp.add_url_rule('/licences/<number>', 'verify', licence_views.verify, methods=['GET'])
bp.add_url_rule('/licences/<number>.json', 'verify_json', licence_views.verify_json, methods=['GET'])
bp.add_url_rule('/requests/<token>/renew', 'renew', licence_views.renew, methods=['GET'])

BLUEPRINTS = (public, payments, licences)
