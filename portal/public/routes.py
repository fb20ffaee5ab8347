"""The public blueprints, as a table of contents: every public route, and the view that
answers it. (The tracking image and the Stripe webhook have blueprints of their own.)"""

from flask import Blueprint

from portal.public import licence_views, my_requests, payment_views, views
from portal.public.throttle import new_link_requests as new_links
from portal.public.throttle import token_misses as by_token

public = Blueprint("public", __name__)
payments = Blueprint("payments", __name__)
licences = Blueprint("licences", __name__)

bp = public
# views
bp.add_url_rule('/', 'article_list', views.article_list, methods=['GET'])
bp.add_url_rule('/articles/<slug>', 'article', views.article, methods=['GET'])
bp.add_url_rule('/articles/<slug>/republish', 'republish_form', views.republish_form, methods=['GET', 'POST'])
bp.add_url_rule('/republish', 'republish_by_url', views.republish_by_url, methods=['GET'])
bp.add_url_rule('/requests/<token>', 'request_status', by_token(views.request_status), methods=['GET'])
bp.add_url_rule('/requests/<token>/accept', 'accept_quote', by_token(views.accept_quote), methods=['POST'])
bp.add_url_rule('/requests/<token>/decline-quote', 'decline_quote', by_token(views.decline_quote), methods=['POST'])
bp.add_url_rule('/requests/<token>/answer', 'answer', by_token(views.answer), methods=['POST'])
bp.add_url_rule('/requests/<token>/withdraw', 'withdraw', by_token(views.withdraw), methods=['POST'])
bp.add_url_rule('/requests/<token>/new-link', 'new_link', by_token(new_links(views.new_link)), methods=['POST'])
bp.add_url_rule('/lost-link', 'lost_link', new_links(views.lost_link), methods=['GET', 'POST'])
bp.add_url_rule('/my-requests', 'my_requests', my_requests.ask, methods=['GET', 'POST'])
bp.add_url_rule('/my-requests/<token>', 'my_requests_page', my_requests.page, methods=['GET'])
bp.add_url_rule('/my-requests/<token>/<reference>', 'my_request', my_requests.open_request, methods=['GET'])
bp.add_url_rule('/healthz', 'healthz', views.healthz, methods=['GET'])
bp.add_url_rule('/readyz', 'readyz', views.readyz, methods=['GET'])

bp = payments
# payment views
bp.add_url_rule("/requests/<token>/pay", "pay", by_token(payment_views.pay), methods=["POST"])
bp.add_url_rule("/requests/<token>/payment", "payment_return", by_token(payment_views.payment_return),
                methods=["GET"])
bp.add_url_rule("/payments/<key>/return", "checkout_return", payment_views.checkout_return,
                methods=["GET"])
bp.add_url_rule("/payments/<key>/cancelled", "checkout_cancelled",
                payment_views.checkout_cancelled, methods=["GET"])
bp.add_url_rule("/requests/<token>/invoice/<number>.pdf", "invoice", by_token(payment_views.invoice),
                methods=["GET"])
bp.add_url_rule("/payments/demo/<ref>", "demo_checkout", payment_views.demo_checkout,
                methods=["GET"])
bp.add_url_rule("/payments/demo/<ref>/<outcome>", "demo_checkout_act",
                payment_views.demo_checkout_act, methods=["POST"])

bp = licences
# licence views
bp.add_url_rule('/requests/<token>/licence/<number>.html', 'copy_html', by_token(licence_views.copy_html), methods=['GET'])
bp.add_url_rule('/requests/<token>/licence/<number>.txt', 'copy_text', by_token(licence_views.copy_text), methods=['GET'])
bp.add_url_rule('/requests/<token>/licence/<number>.pdf', 'certificate', by_token(licence_views.certificate), methods=['GET'])
bp.add_url_rule('/licences/<number>', 'verify', licence_views.verify, methods=['GET'])
bp.add_url_rule('/licences/<number>.json', 'verify_json', licence_views.verify_json, methods=['GET'])
bp.add_url_rule('/requests/<token>/renew', 'renew', by_token(licence_views.renew), methods=['GET'])

BLUEPRINTS = (public, payments, licences)
