"""Response examples of the Bybit v5 docs (https://bybit-exchange.github.io/docs/v5/...), verbatim."""

FLEX_BORROW = (b'{"retCode":0,"retMsg":"ok","result":{"orderId":"1363"},"retExtInfo":{},"time":1752569209682}')
FLEX_BORROW_REQUEST = (b'{"loanCurrency": "BTC", "loanAmount": "0.1", "collateralList": [{"currency": "USDT", '
                       b'"amount": "1000"}, {"currency": "ETH", "amount": "1"}]}')
FLEX_REPAY = b'{"retCode":0,"retMsg":"ok","result":{"repayId":"1771"},"retExtInfo":{},"time":1752569614549}'
FLEX_REPAY_REQUEST = b'{"loanCurrency": "BTC", "amount": "0.005"}'
FIXED_REPAY = b'{"retCode":0,"retMsg":"ok","result":{"repayId":"1771"},"retExtInfo":{},"time":1752569614549}'
FIXED_REPAY_REQUEST = b'{"loanId": "570", "loanCurrency": "ETH"}'
LEGACY_REPAY = (b'{"retCode":0,"retMsg":"request.success","result":{"repayId":"1794271131730737664"},'
                b'"retExtInfo":{},"time":1728629786884}')
LEGACY_REPAY_REQUEST = b'{"orderId": "1794267532472646144", "amount": "100"}'
INS_REPAY = (b'{"retCode":0,"retMsg":"success","result":{"repayOrderStatus":"P"},"retExtInfo":{},'
             b'"time":1767580441965}')
INS_REPAY_REQUEST = b'{"token": "USDT", "quantity": "500000"}'

LOANABLE = (
    b'{"retCode":0,"retMsg":"ok","result":{"list":[{"currency":"ETH","fixedBorrowable":true,'
    b'"fixedBorrowingAccuracy":6,"flexibleBorrowable":true,"flexibleBorrowingAccuracy":4,'
    b'"maxBorrowingAmount":"1100","minFixedBorrowingAmount":"0.1","minFlexibleBorrowingAmount":"0.001",'
    b'"vipLevel":"VIP5","annualizedInterestRate14D":"0.08","annualizedInterestRate180D":"",'
    b'"annualizedInterestRate30D":"","annualizedInterestRate60D":"","annualizedInterestRate7D":"",'
    b'"annualizedInterestRate90D":"","flexibleAnnualizedInterestRate":"0.001429799316"}]},'
    b'"retExtInfo":{},"time":1752573126653}'
)
LEGACY_LOANABLE = (
    b'{"retCode":0,"retMsg":"request.success","result":{"vipCoinList":[{"list":[{"borrowingAccuracy":4,'
    b'"currency":"USDT","flexibleHourlyInterestRate":"0.0000090346","hourlyInterestRate14D":"0.0000207796",'
    b'"hourlyInterestRate180D":"","hourlyInterestRate30D":"0.00002349","hourlyInterestRate7D":"0.0000180692",'
    b'"hourlyInterestRate90D":"","maxBorrowingAmount":"8000000","minBorrowingAmount":"20"}],"vipLevel":"VIP0"}]},'
    b'"retExtInfo":{},"time":1728619315868}'
)

FLEX_BORROW_HISTORY = (
    b'{"retCode":0,"retMsg":"ok","result":{"list":['
    b'{"borrowTime":1752569950643,"initialLoanAmount":"0.006","loanCurrency":"BTC","orderId":"1364","status":1},'
    b'{"borrowTime":1752569209643,"initialLoanAmount":"0.1","loanCurrency":"BTC","orderId":"1363","status":1}],'
    b'"nextPageCursor":"1363"},"retExtInfo":{},"time":1752570519414}'
)
FLEX_REPAY_HISTORY = (
    b'{"retCode":0,"retMsg":"ok","result":{"list":['
    b'{"loanCurrency":"BTC","repayAmount":"0.007","repayId":"1773","repayStatus":1,"repayTime":1752570731274,'
    b'"repayType":1},'
    b'{"loanCurrency":"BTC","repayAmount":"0.006","repayId":"1772","repayStatus":1,"repayTime":1752570726038,'
    b'"repayType":1},'
    b'{"loanCurrency":"BTC","repayAmount":"0.005","repayId":"1771","repayStatus":1,"repayTime":1752569614528,'
    b'"repayType":1}],'
    b'"nextPageCursor":"1769"},"retExtInfo":{},"time":1752570745493}'
)
FIXED_CONTRACTS = (
    b'{"retCode":0,"retMsg":"ok","result":{"list":[{"annualRate":"0.022","autoRepay":"true",'
    b'"borrowCurrency":"ETH","borrowTime":"1752633756068","interestPaid":"0.002531506849315069","loanId":"571",'
    b'"orderId":"13007","repayType":"1","repaymentTime":"1755225756068","residualPenaltyInterest":"0",'
    b'"residualPrincipal":"1.4","status":1,"term":"30"},{"annualRate":"0.022","autoRepay":"true",'
    b'"borrowCurrency":"ETH","borrowTime":"1752633696068","interestPaid":"0.00018082191780822","loanId":"570",'
    b'"orderId":"13007","repayType":"1","repaymentTime":"1755225696068","residualPenaltyInterest":"0",'
    b'"residualPrincipal":"0.1","status":1,"term":"30"}],"nextPageCursor":"568"},"retExtInfo":{},'
    b'"time":1752652692603}'
)
FIXED_REPAY_HISTORY = (
    b'{"retCode":0,"retMsg":"ok","result":{"list":[{"details":['
    b'{"loanCurrency":"ETH","loanId":"568","repayAmount":"0.1"},'
    b'{"loanCurrency":"ETH","loanId":"571","repayAmount":"1.4"}],'
    b'"loanCurrency":"ETH","repayAmount":"1.5","repayId":"1782","repayStatus":1,"repayTime":1752717174353,'
    b'"repayType":1}],"nextPageCursor":"1674"},"retExtInfo":{},"time":1752717183557}'
)
ADJUST_HISTORY = (
    b'{"retCode":0,"retMsg":"ok","result":{"list":[{"adjustId":27511,"adjustTime":1752627997907,'
    b'"afterLTV":"0.813743","amount":"0.08","collateralCurrency":"BTC","direction":1,"preLTV":"0.524602",'
    b'"status":1}],"nextPageCursor":"27491"},"retExtInfo":{},"time":1752628000000}'
)
LEGACY_BORROW_HISTORY = (
    b'{"retCode":0,"retMsg":"request.success","result":{"list":[{"borrowTime":"1728546174028",'
    b'"collateralCurrency":"BTC","expirationTime":"1729148399000","hourlyInterestRate":"0.0000010241",'
    b'"initialCollateralAmount":"0.0494727","initialLoanAmount":"1","loanCurrency":"ETH","loanTerm":"7",'
    b'"orderId":"1793569729874260992","repaidInterest":"0.00000515","repaidPenaltyInterest":"0","status":1}],'
    b'"nextPageCursor":""},"retExtInfo":{},"time":1728630000000}'
)
LEGACY_REPAY_HISTORY = (
    b'{"retCode":0,"retMsg":"request.success","result":{"list":[{"collateralCurrency":"BTC",'
    b'"collateralReturn":"0","loanCurrency":"USDT","loanTerm":"","orderId":"1794267532472646144",'
    b'"repayAmount":"100","repayId":"1794271131730737664","repayStatus":1,"repayTime":"1728629786875",'
    b'"repayType":"1"}],"nextPageCursor":""},"retExtInfo":{},"time":1728630000000}'
)
INS_LOANS = (
    b'{"retCode":0,"retMsg":"","result":{"loanInfo":[{"orderId":"1468005106166530304","orderProductId":"96",'
    b'"parentUid":"1631521","loanTime":"1689735916000","loanCoin":"USDT","loanAmount":"204",'
    b'"unpaidAmount":"52.07924201","unpaidInterest":"0","repaidAmount":"151.92075799","repaidInterest":"0",'
    b'"interestRate":"0.00019178","status":"1","leverage":"4","spotSymbols":[],"contractSymbols":[]}]},'
    b'"retExtInfo":{},"time":1689736000000}'
)
INS_REPAID = (
    b'{"retCode":0,"retMsg":"","result":{"repayInfo":[{"repayOrderId":"8189","repaidTime":"1663126393000",'
    b'"token":"USDT","quantity":"30000","interest":"0","businessType":"1","status":"1"}]},"retExtInfo":{},'
    b'"time":1669366648366}'
)
FIXED_ORDERS = (
    b'{"retCode":0,"retMsg":"ok","result":{"list":[{"annualRate":"0.01","filledQty":"0","orderCurrency":"MANA",'
    b'"orderId":13010,"orderQty":"2000","orderTime":"1752654035179","repayType":"2","state":1,"term":30}],'
    b'"nextPageCursor":""},"retExtInfo":{},"time":1752655241090}'
)
LEGACY_ADJUST_HISTORY = (
    b'{"retCode":0,"retMsg":"request.success","result":{"list":[{"adjustId":"1794318409405331968",'
    b'"adjustTime":"1728635422814","afterLTV":"0.7164","amount":"0.001","collateralCurrency":"BTC","direction":1,'
    b'"orderId":"1794267532472646144","preLTV":"0.6546"}],"nextPageCursor":"1844656778923966466"},'
    b'"retExtInfo":{},"time":1728635873329}'
)

# --- position endpoints -------------------------------------------------------------------------
CRYPTO_LOAN_POSITION = (
    b'{"retCode":0,"retMsg":"ok","result":{"borrowList":[{"fixedTotalDebt":"0","fixedTotalDebtUSD":"0",'
    b'"flexibleHourlyInterestRate":"0.0000001361462","flexibleTotalDebt":"0.08800022","flexibleTotalDebtUSD":'
    b'"9355.37","loanCurrency":"BTC"},{"fixedTotalDebt":"0.1","fixedTotalDebtUSD":"282.8",'
    b'"flexibleHourlyInterestRate":"0.00000188498892","flexibleTotalDebt":"0","flexibleTotalDebtUSD":"0",'
    b'"loanCurrency":"ETH"}],"collateralList":[{"amount":"0.12","amountUSD":"9930.11","currency":"BTC"},'
    b'{"amount":"2","amountUSD":"4524.81","currency":"ETH"},{"amount":"4002.12","amountUSD":"3201.69",'
    b'"currency":"USDT"},{"amount":"1000","amountUSD":"724.8","currency":"USDC"}],"ltv":"0.524344",'
    b'"supplyList":[{"amount":"800.13041095890410959","amountUSD":"800.13","currency":"USDT"}],'
    b'"totalCollateral":"18381.41","totalDebt":"9638.17","totalSupply":"800.13"},"retExtInfo":{},'
    b'"time":1752627962000}'
)
FLEXIBLE_ONGOING = (
    b'{"retCode":0,"retMsg":"ok","result":{"list":[{"hourlyInterestRate":"0.0000018847396","loanCurrency":"ETH",'
    b'"totalDebt":"0.10000019","unpaidAmount":"0.1","unpaidInterest":"0.00000019"}]},"retExtInfo":{},'
    b'"time":1760452029499}'
)
LEGACY_ONGOING = (
    b'{"retCode":0,"retMsg":"request.success","result":{"list":[{"collateralAmount":"0.0964687",'
    b'"collateralCurrency":"BTC","currentLTV":"0.4161","expirationTime":"1731149999000","hourlyInterestRate":'
    b'"0.0000010633","loanCurrency":"USDT","loanTerm":"30","orderId":"1793683005081680384","residualInterest":'
    b'"0.04016","residualPenaltyInterest":"0","totalDebt":"1888.005198"}],"nextPageCursor":""},"retExtInfo":{},'
    b'"time":1728630980861}'
)
INS_LTV = (
    b'{"retCode":0,"retMsg":"","result":{"ltvInfo":[{"ltv":"0.75","rst":"","parentUid":"xxxxx","subAccountUids":'
    b'["60568258"],"unpaidAmount":"30","unpaidInfo":[{"token":"USDT","unpaidQty":"30","unpaidInterest":"0"}],'
    b'"balance":"40","balanceInfo":[{"token":"USDT","price":"1","qty":"40","convertedAmount":"40"}]}]},'
    b'"retExtInfo":{},"time":1686638166323}'
)
