"""The small offline document collection searched by ``research/web_search``."""

from __future__ import annotations

INDEX_NAME = "skillos-offline-sample"
INDEX_DATE = "2026-11-01"

DOCUMENTS: list[dict[str, str]] = [
    {
        "title": "Exchange rate",
        "url": "https://en.wikipedia.org/wiki/Exchange_rate",
        "text": (
            "An exchange rate is the rate at which one currency will be exchanged for another. "
            "Rates are quoted as the price of a base currency in units of a quote currency. "
            "Floating exchange rates are set by the foreign exchange market, while fixed rates "
            "are pegged by a central bank."
        ),
    },
    {
        "title": "ISO 4217 currency codes",
        "url": "https://en.wikipedia.org/wiki/ISO_4217",
        "text": (
            "ISO 4217 defines three-letter codes for currencies, such as USD for the US dollar, "
            "EUR for the euro, GBP for the pound sterling, JPY for the Japanese yen and RUB for "
            "the Russian ruble. The standard also assigns numeric codes and minor unit digits."
        ),
    },
    {
        "title": "Personal budget and expense tracking",
        "url": "https://en.wikipedia.org/wiki/Personal_budget",
        "text": (
            "A personal budget allocates future income towards expenses, savings and debt "
            "repayment. Tracking expenses by category, such as food, transport and housing, "
            "shows where money goes each month and helps to plan spending."
        ),
    },
    {
        "title": "Oyster",
        "url": "https://en.wikipedia.org/wiki/Oyster",
        "text": (
            "Oysters are bivalve molluscs living in marine or brackish water. Edible oysters are "
            "eaten raw or cooked and are farmed in many coastal regions. Live oysters must be "
            "kept cold, between 2 and 8 degrees Celsius, during storage and shipping."
        ),
    },
    {
        "title": "Marennes-Oléron oyster farming",
        "url": "https://en.wikipedia.org/wiki/Marennes-Ol%C3%A9ron",
        "text": (
            "The Marennes-Oléron basin on the Atlantic coast of France is known for oysters "
            "finished in claires, shallow clay ponds. Fine de Claire and Spéciale de Claire "
            "oysters are graded by calibre from 0, the largest, to 5, the smallest."
        ),
    },
    {
        "title": "Устрицы: хранение и доставка",
        "url": "https://ru.wikipedia.org/wiki/Устрицы",
        "text": (
            "Устрицы продают живыми, поэтому при доставке важна холодовая цепь. Устриц "
            "перевозят в изотермических коробках со льдом или гелевыми аккумуляторами холода "
            "при температуре от 2 до 8 градусов."
        ),
    },
    {
        "title": "Sochi travel guide",
        "url": "https://en.wikivoyage.org/wiki/Sochi",
        "text": (
            "Sochi is a resort city on the Black Sea coast of Russia. Visitors come for the "
            "beaches in summer and the ski resorts of Krasnaya Polyana in winter. Sochi "
            "International Airport (AER) has flights from Moscow and Saint Petersburg."
        ),
    },
    {
        "title": "Казань: что посмотреть",
        "url": "https://ru.wikivoyage.org/wiki/Казань",
        "text": (
            "Казань — столица Татарстана на Волге. Главные достопримечательности: Казанский "
            "кремль с мечетью Кул-Шариф, улица Баумана и Старо-Татарская слобода. Туристам "
            "советуют попробовать эчпочмак и чак-чак."
        ),
    },
    {
        "title": "Saint Petersburg travel guide",
        "url": "https://en.wikivoyage.org/wiki/Saint_Petersburg",
        "text": (
            "Saint Petersburg is famous for the Hermitage Museum, the palaces of Peterhof and "
            "the white nights of June. Hotels near Nevsky Prospect are convenient for "
            "sightseeing; book early for the summer season."
        ),
    },
    {
        "title": "Paris travel guide",
        "url": "https://en.wikivoyage.org/wiki/Paris",
        "text": (
            "Paris, the capital of France, is known for the Louvre, the Eiffel Tower and its "
            "cafés. The city has two main airports, Charles de Gaulle (CDG) and Orly, and a "
            "dense metro network. Museums are often closed on Monday or Tuesday."
        ),
    },
    {
        "title": "Istanbul travel guide",
        "url": "https://en.wikivoyage.org/wiki/Istanbul",
        "text": (
            "Istanbul spans Europe and Asia across the Bosphorus. Highlights include Hagia "
            "Sophia, the Grand Bazaar and ferry rides between the continents. Istanbul Airport "
            "(IST) is a major hub for connecting flights."
        ),
    },
    {
        "title": "Федеральный закон № 44-ФЗ о контрактной системе",
        "url": "https://ru.wikipedia.org/wiki/Федеральный_закон_«О_контрактной_системе»",
        "text": (
            "Закон 44-ФЗ регулирует государственные и муниципальные закупки. Заказчик "
            "размещает извещение в единой информационной системе, указывает начальную "
            "(максимальную) цену контракта и требования к участникам закупки. Основные способы "
            "закупки — электронный аукцион, конкурс и запрос котировок."
        ),
    },
    {
        "title": "Федеральный закон № 223-ФЗ о закупках отдельных видов юридических лиц",
        "url": "https://ru.wikipedia.org/wiki/Федеральный_закон_«О_закупках_товаров,_работ,_услуг_отдельными_видами_юридических_лиц»",
        "text": (
            "Закон 223-ФЗ устанавливает правила закупок для госкомпаний, естественных монополий "
            "и организаций с государственным участием. Порядок закупок определяется положением "
            "о закупке, которое заказчик публикует в ЕИС."
        ),
    },
    {
        "title": "Public procurement",
        "url": "https://en.wikipedia.org/wiki/Government_procurement",
        "text": (
            "Public procurement is the purchase of goods, works and services by governments and "
            "state-owned enterprises. Tenders set eligibility requirements for suppliers, such "
            "as licences, certificates, experience and minimum annual turnover."
        ),
    },
    {
        "title": "Python (programming language)",
        "url": "https://en.wikipedia.org/wiki/Python_(programming_language)",
        "text": (
            "Python is a high-level, general-purpose programming language that emphasises code "
            "readability. Its standard library covers JSON, regular expressions, dates and "
            "decimal arithmetic, which makes it popular for scripting and automation."
        ),
    },
    {
        "title": "Rust (programming language)",
        "url": "https://en.wikipedia.org/wiki/Rust_(programming_language)",
        "text": (
            "Rust is a systems programming language focused on memory safety and performance. "
            "Its ownership model prevents data races at compile time, and the Cargo tool builds "
            "packages called crates."
        ),
    },
    {
        "title": "gRPC",
        "url": "https://en.wikipedia.org/wiki/GRPC",
        "text": (
            "gRPC is a remote procedure call framework that uses HTTP/2 for transport and "
            "Protocol Buffers as the interface description language. It supports streaming, "
            "deadlines, authentication and code generation for many languages."
        ),
    },
    {
        "title": "tf–idf",
        "url": "https://en.wikipedia.org/wiki/Tf%E2%80%93idf",
        "text": (
            "Term frequency–inverse document frequency (tf-idf) weighs how important a word is "
            "to a document in a collection. Search engines rank documents by the tf-idf "
            "similarity between the query and each document."
        ),
    },
    {
        "title": "Automatic summarization",
        "url": "https://en.wikipedia.org/wiki/Automatic_summarization",
        "text": (
            "Extractive summarization selects the most important sentences of a text, for "
            "example by scoring sentences by the frequency of their words. Abstractive "
            "summarization generates new sentences that paraphrase the source."
        ),
    },
    {
        "title": "Coffee break",
        "url": "https://en.wikipedia.org/wiki/Coffee_break",
        "text": (
            "A coffee break is a short rest period during the working day for a drink and a "
            "snack. Short regular breaks, such as those in the Pomodoro technique, help people "
            "stay focused and reduce fatigue."
        ),
    },
    {
        "title": "Itinerary planning",
        "url": "https://en.wikipedia.org/wiki/Itinerary",
        "text": (
            "A travel itinerary is a schedule of events for a trip: flights, hotel stays, "
            "sightseeing and meals, day by day. Good itineraries group nearby attractions and "
            "leave free time for rest."
        ),
    },
]
